// Package messaging wires Watermill's CQRS component to the SQL database: the command and event buses, their
// processors and the router middleware.
package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/correlation"
	"github.com/sirupsen/logrus"
)

// The topics the buses run on. Each is a table pair created by the migrations.
const (
	TopicEvents = "events"
	TopicPoison = "poison"
)

// CommandPartitions is how many command topics the migrations create, the most a database may use. A serial
// consumer per topic handles one command at a time, waiting on the database for most of it; several topics
// let several run at once where the database has several writers.
const CommandPartitions = 4

// CommandTopic is the topic of a partition; the first keeps the plain name "commands".
func CommandTopic(partition int) string {
	if partition == 0 {
		return "commands"
	}
	return fmt.Sprintf("commands_%d", partition)
}

// Partitioned is a command whose key picks its topic, so the commands with one key (one pass) are handled in
// the order they were sent. Other commands go to the first topic.
type Partitioned interface {
	PartitionKey() string
}

func commandTopicOf(command any, partitions int) string {
	return CommandTopic(partitionOf(command, partitions))
}

func partitionOf(command any, partitions int) int {
	p, ok := command.(Partitioned)
	if !ok {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(p.PartitionKey()))
	return int(h.Sum32() % uint32(partitions))
}

// Config tunes the buses. Zero fields take the defaults.
type Config struct {
	// PollInterval is how long an idle subscriber waits before it looks for new messages again. It bounds how
	// stale a read model is right after a write.
	PollInterval time.Duration
	// ErrorBackoff is a subscriber's first wait after a failure (a handler's, or its own query's, for example while
	// the database restarts); it doubles with each failure in a row up to MaxErrorBackoff.
	ErrorBackoff    time.Duration
	MaxErrorBackoff time.Duration
	// CommandPartitions is how many command topics to use, 1 to CommandPartitions; default 1. The updates of
	// concurrent execute calls are stored as one message per partition, so one partition makes the fewest and
	// largest messages, which on a small database server schedules the most updates per second (README,
	// Performance). More may pay on a database server with more cores.
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
		c.ErrorBackoff = 100 * time.Millisecond
	}
	if c.MaxErrorBackoff == 0 {
		c.MaxErrorBackoff = 30 * time.Second
	}
}

// Validate reports a config the buses cannot run with.
func (c Config) Validate() error {
	var err error
	if c.PollInterval <= 0 {
		err = errors.Join(err, errors.New("poll interval must be positive"))
	}
	if c.ErrorBackoff <= 0 || c.MaxErrorBackoff < c.ErrorBackoff {
		err = errors.Join(err, errors.New("error backoff must be positive and not above the max error backoff"))
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
	failures          *failures
	projections       map[string]bool // by name, to check a skip's
	Router            *message.Router
	CommandBus        *cqrs.CommandBus
	commandProcessors []*cqrs.CommandProcessor
	eventProcessor    *cqrs.EventGroupProcessor
}

// New wires the buses on db. Handlers are added with AddCommandHandler and AddProjections before Run.
func New(db *sqldb.DB, config Config, log *logrus.Entry) (*Bus, error) {
	if db == nil || log == nil {
		return nil, errors.New("new bus: db and log are required")
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid bus config: %w", err)
	}
	logger := NewLogger(log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	failures := newFailures(log)
	// The outermost middleware runs first: a panic becomes an error (Recoverer), and an error aborts the
	// subscriber's transaction so the message is read again (failures).
	router.AddMiddleware(failures.middleware, middleware.Recoverer, withCorrelationID)

	subscribers := subscriberFactory{db: db, config: config, log: log, logger: logger}
	commandBus, err := newCommandBus(txPublisher{db: db, logger: logger}, config.CommandPartitions, logger)
	if err != nil {
		return nil, err
	}
	commandProcessors, err := newCommandProcessors(router, config.CommandPartitions, subscribers, logger)
	if err != nil {
		return nil, err
	}
	eventProcessor, err := newEventProcessor(router, subscribers, logger)
	if err != nil {
		return nil, err
	}
	return &Bus{
		db: db, partitions: config.CommandPartitions, failures: failures, projections: map[string]bool{}, Router: router, CommandBus: commandBus,
		commandProcessors: commandProcessors, eventProcessor: eventProcessor,
	}, nil
}

// subscriberFactory makes the SQL subscriber of a consumer group.
type subscriberFactory struct {
	db     *sqldb.DB
	config Config
	log    *logrus.Entry
	logger watermill.LoggerAdapter
}

func (f subscriberFactory) new(consumerGroup string) (message.Subscriber, error) {
	return wsql.NewSubscriber(f.db, wsql.SubscriberConfig{
		ConsumerGroup:  consumerGroup,
		PollInterval:   f.config.PollInterval,
		ResendInterval: f.config.ErrorBackoff,
		BackoffManager: &subscriberBackoff{
			poll: f.config.PollInterval, first: f.config.ErrorBackoff, max: f.config.MaxErrorBackoff,
			log: f.log.WithField("consumer_group", consumerGroup),
		},
		SchemaAdapter:  f.db.Dialect.WatermillSchema,
		OffsetsAdapter: f.db.Dialect.WatermillOffsets,
	}, f.logger)
}

// subscriberBackoff is a subscriber's wait after an error: it doubles from first to max over consecutive errors
// and starts again after a read that succeeds. After a dropped connection the first read again comes quickly;
// through a database restart the reads back off instead of flooding the log.
type subscriberBackoff struct {
	poll, first, max time.Duration
	log              *logrus.Entry
	errors           int
}

func (b *subscriberBackoff) HandleError(_ watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err == nil {
		b.errors = 0
		if noMsg {
			return b.poll
		}
		return 0
	}
	wait := min(b.first<<min(b.errors, 20), b.max)
	b.errors++
	// A handler's failure was logged by failures, and a stopping subscriber's query ends with its context: only
	// the subscriber's own query failing is news.
	if !errors.Is(err, sql.ErrTxDone) && !errors.Is(err, context.Canceled) {
		b.log.WithError(err).WithField("retry_in", wait.String()).Warn("reading messages failed; retrying")
	}
	return wait
}

// newCommandProcessors returns a processor per command topic; a handler's consumer group is its name on each.
func newCommandProcessors(router *message.Router, partitions int, subscribers subscriberFactory, logger watermill.LoggerAdapter) ([]*cqrs.CommandProcessor, error) {
	processors := make([]*cqrs.CommandProcessor, partitions)
	for i := range processors {
		topic := CommandTopic(i)
		var err error
		processors[i], err = cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
			GenerateSubscribeTopic: func(cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) { return topic, nil },
			SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
				return subscribers.new(strings.TrimSuffix(p.HandlerName, partitionSuffix(i)))
			},
			Marshaler: marshaler,
			Logger:    logger,
		})
		if err != nil {
			return nil, fmt.Errorf("new command processor: %w", err)
		}
	}
	return processors, nil
}

func newEventProcessor(router *message.Router, subscribers subscriberFactory, logger watermill.LoggerAdapter) (*cqrs.EventGroupProcessor, error) {
	processor, err := cqrs.NewEventGroupProcessorWithConfig(router, cqrs.EventGroupProcessorConfig{
		GenerateSubscribeTopic: func(cqrs.EventGroupProcessorGenerateSubscribeTopicParams) (string, error) {
			return TopicEvents, nil
		},
		SubscriberConstructor: func(p cqrs.EventGroupProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return subscribers.new(p.EventGroupName)
		},
		AckOnUnknownEvent: true,
		Marshaler:         marshaler,
		Logger:            logger,
	})
	if err != nil {
		return nil, fmt.Errorf("new event processor: %w", err)
	}
	return processor, nil
}

func newCommandBus(publisher message.Publisher, partitions int, logger watermill.LoggerAdapter) (*cqrs.CommandBus, error) {
	commandBus, err := cqrs.NewCommandBusWithConfig(publisher, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return commandTopicOf(p.Command, partitions), nil
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
	return commandBus, nil
}

// Stopped lists the consumers held up by a message that fails on every try, for readiness checks and tests.
func (b *Bus) Stopped() []Stopped { return b.failures.list() }

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

// Run runs the router until ctx ends.
func (b *Bus) Run(ctx context.Context) error {
	return b.Router.Run(ctx)
}

// Running is closed once every handler is subscribed.
func (b *Bus) Running() chan struct{} { return b.Router.Running() }

var marshaler = cqrs.JSONMarshaler{GenerateName: cqrs.StructName}

// txPublisher publishes in the transaction the message's context carries (a subscriber's, or one InTx opened),
// else with one INSERT of its own. Publishing inside a handler's transaction is what makes a command's events
// commit together with the ack; on SQLite's single connection it is also the only way.
type txPublisher struct {
	db     *sqldb.DB
	logger watermill.LoggerAdapter
}

func (p txPublisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	if tx, ok := sqldb.TxFromContext(ctx); ok {
		return p.publish(tx, topic, msgs)
	}
	// No transaction to join: the publisher writes every message in one INSERT, which is atomic by itself, so
	// an explicit transaction would only add two round trips to every execute call.
	return p.publish(p.db.DB, topic, msgs)
}

func (p txPublisher) publish(db wsql.ContextExecutor, topic string, msgs []*message.Message) error {
	pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{SchemaAdapter: p.db.Dialect.WatermillSchema}, p.logger)
	if err != nil {
		return fmt.Errorf("new publisher: %w", err)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

func (p txPublisher) Close() error { return nil }

// EventPublisher implements eventstore.Publisher: the events of one append go on the events topic as
// eventstore.Batch messages.
type EventPublisher struct {
	pub txPublisher
}

// maxBatchEvents bounds a message's size: a 50,000-pass import batch becomes 100 messages, not one of 25 MB.
const maxBatchEvents = 500

// NewEventPublisher returns the event publisher for db.
func NewEventPublisher(db *sqldb.DB, logger watermill.LoggerAdapter) (*EventPublisher, error) {
	if db == nil {
		return nil, errors.New("new event publisher: nil db")
	}
	return &EventPublisher{pub: txPublisher{db: db, logger: logger}}, nil
}

// PublishInTx implements eventstore.Publisher. It sends all messages in one INSERT, which is why it marshals
// them itself instead of calling cqrs.EventBus.Publish once per message.
func (p *EventPublisher) PublishInTx(ctx context.Context, tx *sql.Tx, events []eventstore.Event) error {
	var msgs []*message.Message
	for start := 0; start < len(events); start += maxBatchEvents {
		batch := eventstore.Batch{Events: events[start:min(start+maxBatchEvents, len(events))]}
		msg, err := marshaler.Marshal(&batch)
		if err != nil {
			return fmt.Errorf("marshal events from %s: %w", batch.Events[0].ID, err)
		}
		middleware.SetCorrelationID(correlation.ID(ctx), msg)
		msg.SetContext(ctx)
		msgs = append(msgs, msg)
	}
	return p.pub.publish(tx, TopicEvents, msgs)
}

// Stopped is a consumer held up by a message it fails on every try: it tries again with backoff and takes no
// later message until that one succeeds, a release fixes the handler or an operator skips the message.
type Stopped struct {
	// Consumer is the router handler: a projections group or a command handler.
	Consumer string
	// MessageUUID is the Watermill message it fails on.
	MessageUUID string
	// EventID and Position name the event that failed, when the handler said which (eventstore.EventError).
	EventID  string
	Position int64
	Err      string
	Since    time.Time
}

// failures is what happens when a handler fails. No message is ever parked on a poison topic: an acknowledged
// execute call's command, or an event, that went there would be lost to its consumer for good.
//
// A failed try aborts the subscriber's whole transaction instead of being retried inside it: if the connection
// died, nothing more can be done in it (retrying there spun for 30 s, Watermill's ack deadline), and if a lock
// timed out, an open transaction would hold back every subscriber of the database (the transaction-id cut-off
// is database-wide). The aborted transaction also drops the message's ack, so the subscriber fails to store its
// offset, backs off (subscriberBackoff) and reads the same messages again on a fresh connection. The effects
// and the offset commit together or not at all, so a message still takes effect exactly once.
//
// A transient failure (sqldb.Transient) is logged as a warning and retried until it passes. Any other failure
// stops the consumer: it is logged as an error, with the event's id and position where the handler named them,
// and listed by Stopped, until a try succeeds.
type failures struct {
	log *logrus.Entry

	mu      sync.Mutex
	stopped map[string]Stopped
}

func newFailures(log *logrus.Entry) *failures {
	return &failures{log: log, stopped: map[string]Stopped{}}
}

func (f *failures) middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		consumer := message.HandlerNameFromCtx(msg.Context())
		produced, err := h(msg)
		if err == nil {
			f.handled(consumer, msg.UUID)
			return produced, nil
		}
		tx, inTx := wsql.TxFromContext(msg.Context())
		if !inTx {
			// Not a SQL subscriber's message: nacking makes its subscriber send it again.
			return nil, err
		}
		if errors.Is(err, sql.ErrTxDone) {
			// An earlier message of the same read aborted the transaction; this one is read again with it.
			return nil, nil
		}
		f.failed(consumer, msg.UUID, err)
		// Rollback marks the transaction done even when the connection is gone, so the subscriber's ack in it
		// fails and nothing of this read is stored: the ack below only tells the subscriber to move on to that.
		_ = tx.Rollback()
		return nil, nil
	}
}

func (f *failures) failed(consumer, messageUUID string, err error) {
	log := f.log.WithError(err).WithFields(logrus.Fields{"consumer": consumer, "message_uuid": messageUUID})
	if sqldb.Transient(err) {
		log.Warn("handler hit a transient database error; reading the message again on a fresh transaction")
		return
	}
	s := Stopped{Consumer: consumer, MessageUUID: messageUUID, Err: err.Error(), Since: time.Now()}
	var eventErr *eventstore.EventError
	if errors.As(err, &eventErr) {
		s.EventID, s.Position = eventErr.EventID, eventErr.Position.Sequence
		log = log.WithFields(logrus.Fields{"event_id": s.EventID, "position": s.Position})
	}
	f.mu.Lock()
	if previous, ok := f.stopped[consumer]; ok && previous.MessageUUID == messageUUID {
		s.Since = previous.Since
	}
	f.stopped[consumer] = s
	f.mu.Unlock()
	log.WithField("stopped_since", s.Since.UTC().Format(time.RFC3339)).
		Error("consumer stopped: the message fails on every try and nothing after it is handled until it succeeds; " +
			"fix it with a release, or skip the event with `passpush projections skip`")
}

// handled clears a consumer's stop once the message it stopped on succeeds. The messages read before it in the
// same transaction succeed on every try and say nothing.
func (f *failures) handled(consumer, messageUUID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.stopped[consumer]; ok && s.MessageUUID == messageUUID {
		delete(f.stopped, consumer)
		f.log.WithFields(logrus.Fields{"consumer": consumer, "message_uuid": s.MessageUUID}).Warn("consumer resumed")
	}
}

func (f *failures) isStopped(consumer string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stopped[consumer]
	return ok
}

func (f *failures) list() []Stopped {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Stopped, 0, len(f.stopped))
	for _, s := range f.stopped {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Consumer < out[j].Consumer })
	return out
}

// withCorrelationID gives the handler's context the correlation id the sender's message carries.
func withCorrelationID(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if id := middleware.MessageCorrelationID(msg); id != "" {
			msg.SetContext(correlation.WithID(msg.Context(), id))
		}
		return h(msg)
	}
}
