package messaging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/poison"
)

// poisonedReason is the error the failing consumers return, as a lock timeout did in issue 9.
const poisonedReason = "canceling statement due to lock timeout (SQLSTATE 55P03)"

// The messages reach the poison topic the way they did in the field: through Watermill's PoisonQueue middleware,
// publishing in the failing subscriber's transaction, after the retries ran out.
func TestPoison_replaySendsEachPoisonedMessageBackOnce(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	ctx := contracttest.Context(t)
	log := contracttest.Logger()
	consumers := newPoisonConsumers(t, db)
	queue, err := NewPoison(db, log)
	if err != nil {
		t.Fatal(err)
	}

	if msgs, err := queue.List(ctx); err != nil || len(msgs) != 0 {
		t.Fatalf("List on a new database = %v, %v; want nothing", msgs, err)
	}

	consumers.failing.Store(true)
	stop := consumers.run(t)
	sent := []sentMessage{
		consumers.send(t, CommandTopic(0), &command.ScheduleJourneyPassUpdates{Updates: []command.ScheduleJourneyPassUpdate{{TenantID: "acme", PassID: "p-1"}}}),
		consumers.send(t, TopicEvents, &eventstore.Batch{Events: []eventstore.Event{{ID: "e-1", TenantID: "acme", StreamID: "pass-p-1", Version: 2}}}),
		consumers.send(t, TopicEvents, &eventstore.Batch{Events: []eventstore.Event{{ID: "e-2", TenantID: "acme", StreamID: "pass-p-2", Version: 2}}}),
	}
	var poisoned []poison.Message
	contracttest.Eventually(t, func() bool {
		poisoned, err = queue.List(ctx)
		return err == nil && len(poisoned) == len(sent)
	}, "the %d failing messages are on the poison topic (last List: %v, %v)", len(sent), poisoned, err)
	stop()

	// The two consumers fail independently, so the poison topic has the messages in the order they failed in.
	started := time.Now()
	kinds := map[string]int{}
	for i, m := range poisoned {
		want := sentByID(sent, m.ID)
		switch {
		case want == nil:
			t.Errorf("poisoned[%d].ID = %s, want one of the messages sent", i, m.ID)
		case m.Topic != want.topic || m.Handler != "handler_"+want.topic || m.Subscriber == "":
			t.Errorf("poisoned[%d] is from topic %q, handler %q, subscriber %q; want %s, handler_%s, a subscriber", i, m.Topic, m.Handler, m.Subscriber, want.topic, want.topic)
		case m.Reason != poisonedReason:
			t.Errorf("poisoned[%d].Reason = %q, want %q", i, m.Reason, poisonedReason)
		case m.Kind != want.Metadata.Get("name"):
			t.Errorf("poisoned[%d].Kind = %q, want %q", i, m.Kind, want.Metadata.Get("name"))
		case m.PoisonedAt.Before(started.Add(-time.Minute)) || m.PoisonedAt.After(started.Add(time.Minute)):
			t.Errorf("poisoned[%d].PoisonedAt = %s, want about %s", i, m.PoisonedAt, started.UTC())
		case i > 0 && m.Offset <= poisoned[i-1].Offset:
			t.Errorf("poisoned offsets %d, %d: want ascending", poisoned[i-1].Offset, m.Offset)
		}
		kinds[m.Kind]++
	}
	if kinds["ScheduleJourneyPassUpdates"] != 1 || kinds["Batch"] != 2 {
		t.Errorf("kinds %v; want a ScheduleJourneyPassUpdates and two Batch", kinds)
	}

	// The consumers now work, as serve would after a fix, and run while the operator replays.
	consumers.failing.Store(false)
	stop = consumers.run(t)
	defer stop()

	var unknown *poison.UnknownIDsError
	if _, err := queue.Replay(ctx, []string{"no-such-id", poisoned[0].ID}); !errors.As(err, &unknown) || !slices.Equal(unknown.IDs, []string{"no-such-id"}) {
		t.Fatalf("Replay of an unknown id = %v, want an UnknownIDsError naming it", err)
	}
	if left, _ := queue.List(ctx); len(left) != len(sent) {
		t.Fatalf("after a replay with an unknown id %d messages are left, want all %d", len(left), len(sent))
	}

	replayed, err := queue.Replay(ctx, []string{poisoned[0].ID})
	if err != nil || len(replayed) != 1 || replayed[0].ID != poisoned[0].ID {
		t.Fatalf("Replay(%s) = %v, %v; want it replayed", poisoned[0].ID, replayed, err)
	}
	replayed, err = queue.ReplayAll(ctx)
	if err != nil || len(replayed) != 2 || replayed[0].ID != poisoned[1].ID || replayed[1].ID != poisoned[2].ID {
		t.Fatalf("ReplayAll = %v, %v; want the other two, oldest first", replayed, err)
	}

	// Running it again finds nothing to do.
	if again, err := queue.ReplayAll(ctx); err != nil || len(again) != 0 {
		t.Errorf("second ReplayAll = %v, %v; want nothing", again, err)
	}
	if _, err := queue.Replay(ctx, []string{poisoned[0].ID}); !errors.As(err, &unknown) {
		t.Errorf("second Replay(%s) = %v, want an UnknownIDsError", poisoned[0].ID, err)
	}
	if left, err := queue.List(ctx); err != nil || len(left) != 0 {
		t.Errorf("List after the replay = %v, %v; want nothing", left, err)
	}

	// A topic is read in order, so once a message sent after the replay is handled, every replayed message that
	// was going to be handled has been.
	sentinels := []sentMessage{
		consumers.send(t, CommandTopic(0), &command.ScheduleJourneyPassUpdates{}),
		consumers.send(t, TopicEvents, &eventstore.Batch{}),
	}
	contracttest.Eventually(t, func() bool {
		return consumers.handledCount(sentinels[0].UUID) > 0 && consumers.handledCount(sentinels[1].UUID) > 0
	}, "the messages sent after the replay are handled")
	for _, m := range sent {
		if n := consumers.handledCount(m.UUID); n != 1 {
			t.Errorf("message %s handled %d times after the replay, want once", m.UUID, n)
		}
		got := consumers.handledMetadata(m.UUID)
		if got.Get(middleware.ReasonForPoisonedKey) != "" || got.Get(middleware.PoisonedTopicKey) != "" {
			t.Errorf("replayed message %s still carries the poison metadata: %v", m.UUID, got)
		}
		if got.Get("name") != m.Metadata.Get("name") || middleware.MessageCorrelationID(&message.Message{Metadata: got}) != "corr-"+m.UUID {
			t.Errorf("replayed message %s has metadata %v, want the original's %v", m.UUID, got, m.Metadata)
		}
	}
}

// Two operators replaying at once, or a replay run again while the first is still going, send each message once:
// taking it off the poison topic is the claim.
func TestPoison_concurrentReplaysSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	ctx := contracttest.Context(t)
	queue, err := NewPoison(db, contracttest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	pub := txPublisher{db: db, logger: NewLogger(contracttest.Logger())}
	const messages = 20
	var ids []string
	for i := range messages {
		msg, err := marshaler.Marshal(&command.ScheduleJourneyPassUpdates{})
		if err != nil {
			t.Fatal(err)
		}
		// As the poison middleware leaves it.
		msg.Metadata.Set(middleware.ReasonForPoisonedKey, poisonedReason)
		msg.Metadata.Set(middleware.PoisonedTopicKey, CommandTopic(i%CommandPartitions))
		msg.SetContext(ctx)
		if err := pub.Publish(TopicPoison, msg); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.UUID)
	}

	var (
		wg       sync.WaitGroup
		replayed atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs, err := queue.ReplayAll(ctx)
			if err != nil {
				t.Errorf("ReplayAll: %v", err)
			}
			replayed.Add(int64(len(msgs)))
		}()
	}
	wg.Wait()
	if replayed.Load() != messages {
		t.Errorf("four concurrent replays replayed %d messages together, want %d", replayed.Load(), messages)
	}
	for i, id := range ids {
		table := db.Dialect.WatermillSchema.(messagesTable).MessagesTable(CommandTopic(i % CommandPartitions))
		if n := contracttest.Count(t, db, `SELECT count(*) FROM `+table+` WHERE uuid = $1`, id); n != 1 {
			t.Errorf("message %s is on %s %d times, want once", id, CommandTopic(i%CommandPartitions), n)
		}
	}
}

func TestNewPoison_refusesMissingParts(t *testing.T) {
	t.Parallel()
	if _, err := NewPoison(nil, contracttest.Logger()); err == nil {
		t.Error("NewPoison(nil db) succeeded")
	}
	if _, err := NewPoison(&sqldb.DB{Dialect: sqldb.SQLite}, nil); err == nil {
		t.Error("NewPoison(nil logger) succeeded")
	}
}

// poisonConsumers are a consumer group per topic on a router with the middleware builds before issue 9 had:
// Retry, and the PoisonQueue behind it.
type poisonConsumers struct {
	db      *sqldb.DB
	logger  watermill.LoggerAdapter
	pub     txPublisher
	failing atomic.Bool

	mu       sync.Mutex
	handled  map[string]int
	metadata map[string]message.Metadata
}

func newPoisonConsumers(t *testing.T, db *sqldb.DB) *poisonConsumers {
	logger := NewLogger(contracttest.Logger())
	return &poisonConsumers{
		db:       db,
		logger:   logger,
		pub:      txPublisher{db: db, logger: logger},
		handled:  map[string]int{},
		metadata: map[string]message.Metadata{},
	}
}

// run starts the router and returns once it is subscribed; stop closes it and waits until it has.
func (c *poisonConsumers) run(t *testing.T) (stop func()) {
	t.Helper()
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, c.logger)
	if err != nil {
		t.Fatal(err)
	}
	poisonQueue, err := middleware.PoisonQueue(c.pub, TopicPoison)
	if err != nil {
		t.Fatal(err)
	}
	router.AddMiddleware(poisonQueue, middleware.Retry{MaxRetries: 1, InitialInterval: time.Millisecond, Logger: c.logger}.Middleware)
	for _, topic := range []string{CommandTopic(0), TopicEvents} {
		subscriber, err := wsql.NewSubscriber(c.db, wsql.SubscriberConfig{
			ConsumerGroup:  "poison_test",
			PollInterval:   10 * time.Millisecond,
			ResendInterval: 5 * time.Millisecond,
			RetryInterval:  50 * time.Millisecond,
			SchemaAdapter:  c.db.Dialect.WatermillSchema,
			OffsetsAdapter: c.db.Dialect.WatermillOffsets,
		}, c.logger)
		if err != nil {
			t.Fatal(err)
		}
		router.AddConsumerHandler("handler_"+topic, topic, subscriber, c.handle)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	select {
	case <-router.Running():
	case err := <-done:
		cancel()
		t.Fatalf("router stopped before it ran: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("router: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (c *poisonConsumers) handle(msg *message.Message) error {
	if c.failing.Load() {
		return errors.New(poisonedReason)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handled[msg.UUID]++
	c.metadata[msg.UUID] = msg.Metadata
	return nil
}

// sentMessage is a message and the topic it was sent to.
type sentMessage struct {
	*message.Message
	topic string
}

func sentByID(sent []sentMessage, id string) *sentMessage {
	for i := range sent {
		if sent[i].UUID == id {
			return &sent[i]
		}
	}
	return nil
}

// send publishes v on topic as the buses do, with a correlation id of its own.
func (c *poisonConsumers) send(t *testing.T, topic string, v any) sentMessage {
	t.Helper()
	msg, err := marshaler.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	middleware.SetCorrelationID("corr-"+msg.UUID, msg)
	msg.SetContext(contracttest.Context(t))
	if err := c.pub.Publish(topic, msg); err != nil {
		t.Fatal(fmt.Errorf("send to %s: %w", topic, err))
	}
	return sentMessage{Message: msg, topic: topic}
}

func (c *poisonConsumers) handledCount(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handled[id]
}

func (c *poisonConsumers) handledMetadata(id string) message.Metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.metadata[id]
}
