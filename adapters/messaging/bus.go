package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/correlation"
)

// Config tunes the buses. Zero fields take the defaults.
type Config struct {
	// PollInterval is how long an idle subscriber waits before it looks for new messages again. It bounds how
	// stale a read model is right after a write.
	PollInterval time.Duration
	// ErrorBackoff is how long a subscriber waits after a database error, for example while the database restarts.
	ErrorBackoff time.Duration
	// MaxRetries is how often a failing handler is retried before its message goes to the poison topic.
	MaxRetries int
	// RetryInterval is the first retry's delay; it doubles on each retry.
	RetryInterval time.Duration
	// CommandPartitions is how many command topics to use, 1 to CommandPartitions; default 1. The updates of
	// concurrent execute calls are stored as one message per partition, so one partition makes the fewest and
	// largest messages: on the 2-core benchmark machine it schedules more updates per second than four consumers
	// of smaller ones (bench/sfmc, README). More may pay on a database server with more cores.
	CommandPartitions int
}

func (c *Config) setDefaults() {
	if c.CommandPartitions == 0 {
		c.CommandPartitions = 1
	}
	if c.PollInterval == 0 {
		c.PollInterval = 10 * time.Millisecond
	}
	if c.ErrorBackoff == 0 {
		c.ErrorBackoff = time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 20 * time.Millisecond
	}
}

// Validate reports a config the buses cannot run with.
func (c Config) Validate() error {
	var err error
	if c.PollInterval <= 0 {
		err = errors.Join(err, errors.New("poll interval must be positive"))
	}
	if c.ErrorBackoff <= 0 {
		err = errors.Join(err, errors.New("error backoff must be positive"))
	}
	if c.MaxRetries < 0 {
		err = errors.Join(err, errors.New("max retries must not be negative"))
	}
	if c.RetryInterval <= 0 {
		err = errors.Join(err, errors.New("retry interval must be positive"))
	}
	if c.CommandPartitions < 1 || c.CommandPartitions > CommandPartitions {
		err = errors.Join(err, fmt.Errorf("command partitions must be from 1 to %d", CommandPartitions))
	}
	return err
}

// Bus is the Watermill router with the command bus, the command processor and the event processor on it.
type Bus struct {
	db                *sqldb.DB
	partitions        int
	Router            *message.Router
	CommandBus        *cqrs.CommandBus
	commandProcessors []*cqrs.CommandProcessor
	eventProcessor    *cqrs.EventGroupProcessor
}

// New wires the buses on db. Handlers are added with AddCommandHandler and AddProjections before Run.
func New(db *sqldb.DB, config Config, logger watermill.LoggerAdapter) (*Bus, error) {
	if db == nil {
		return nil, errors.New("new bus: nil db")
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid bus config: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	publisher := txPublisher{db: db, logger: logger}
	poison, err := middleware.PoisonQueue(publisher, TopicPoison)
	if err != nil {
		return nil, fmt.Errorf("poison queue: %w", err)
	}
	// The outermost middleware runs first: a panic becomes an error (Recoverer), the error is retried with
	// backoff (Retry), and what still fails is parked on the poison topic so it cannot block its consumer group.
	router.AddMiddleware(
		poison,
		middleware.Retry{
			MaxRetries:      config.MaxRetries,
			InitialInterval: config.RetryInterval,
			Multiplier:      2,
			Logger:          logger,
		}.Middleware,
		middleware.Recoverer,
		withCorrelationID,
	)

	newSubscriber := func(consumerGroup string) (message.Subscriber, error) {
		return wsql.NewSubscriber(db, wsql.SubscriberConfig{
			ConsumerGroup:  consumerGroup,
			PollInterval:   config.PollInterval,
			ResendInterval: config.RetryInterval,
			RetryInterval:  config.ErrorBackoff,
			SchemaAdapter:  db.Dialect.WatermillSchema,
			OffsetsAdapter: db.Dialect.WatermillOffsets,
		}, logger)
	}

	commandBus, err := cqrs.NewCommandBusWithConfig(publisher, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return commandTopicOf(p.Command, config.CommandPartitions), nil
		},
		// The handler's context gets the sender's correlation id back from the message (withCorrelationID).
		OnSend: func(p cqrs.CommandBusOnSendParams) error {
			if id := correlation.ID(p.Message.Context()); id != "" {
				middleware.SetCorrelationID(id, p.Message)
			}
			return nil
		},
		Marshaler: marshaler,
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("new command bus: %w", err)
	}
	commandProcessors := make([]*cqrs.CommandProcessor, config.CommandPartitions)
	for i := range commandProcessors {
		topic := CommandTopic(i)
		commandProcessors[i], err = cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
			GenerateSubscribeTopic: func(cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) { return topic, nil },
			SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
				return newSubscriber(strings.TrimSuffix(p.HandlerName, partitionSuffix(i)))
			},
			Marshaler: marshaler,
			Logger:    logger,
		})
		if err != nil {
			return nil, fmt.Errorf("new command processor: %w", err)
		}
	}
	eventProcessor, err := cqrs.NewEventGroupProcessorWithConfig(router, cqrs.EventGroupProcessorConfig{
		GenerateSubscribeTopic: func(cqrs.EventGroupProcessorGenerateSubscribeTopicParams) (string, error) {
			return TopicEvents, nil
		},
		SubscriberConstructor: func(p cqrs.EventGroupProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return newSubscriber(p.EventGroupName)
		},
		AckOnUnknownEvent: true,
		Marshaler:         marshaler,
		Logger:            logger,
	})
	if err != nil {
		return nil, fmt.Errorf("new event processor: %w", err)
	}
	return &Bus{db: db, partitions: config.CommandPartitions, Router: router, CommandBus: commandBus, commandProcessors: commandProcessors, eventProcessor: eventProcessor}, nil
}

// AddCommandHandler subscribes handler to every command topic. Its name is its consumer group on each.
func (b *Bus) AddCommandHandler(handler cqrs.CommandHandler) error {
	for i, processor := range b.commandProcessors {
		// The router needs a name per handler; the suffix is dropped again for the consumer group.
		if _, err := processor.AddHandler(renamedCommandHandler{handler, handler.HandlerName() + partitionSuffix(i)}); err != nil {
			return fmt.Errorf("add command handler %s: %w", handler.HandlerName(), err)
		}
	}
	return nil
}

func partitionSuffix(partition int) string { return "@" + CommandTopic(partition) }

type renamedCommandHandler struct {
	cqrs.CommandHandler
	name string
}

func (h renamedCommandHandler) HandlerName() string { return h.name }

// Projection handles the events of one append (a batch message) in order.
type Projection func(ctx context.Context, events []eventstore.Event) error

// AddProjections subscribes projections, called in order, to every stored event, in global order, as one consumer
// group. They run in one savepoint of the subscriber's transaction: all take a batch or none does.
func (b *Bus) AddProjections(name string, projections ...Projection) error {
	handle := func(ctx context.Context, batch *eventstore.Batch) error {
		return sqldb.InTx(ctx, b.db, func(ctx context.Context, _ *sql.Tx) error {
			for _, project := range projections {
				if err := project(ctx, batch.Events); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := b.eventProcessor.AddHandlersGroup(name, cqrs.NewGroupEventHandler(handle)); err != nil {
		return fmt.Errorf("add projections %s: %w", name, err)
	}
	return nil
}

// Run runs the router until ctx ends.
func (b *Bus) Run(ctx context.Context) error {
	return b.Router.Run(ctx)
}

// Running is closed once every handler is subscribed.
func (b *Bus) Running() chan struct{} { return b.Router.Running() }

func withCorrelationID(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if id := middleware.MessageCorrelationID(msg); id != "" {
			msg.SetContext(correlation.WithID(msg.Context(), id))
		}
		return h(msg)
	}
}
