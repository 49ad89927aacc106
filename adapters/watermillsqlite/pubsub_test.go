package watermillsqlite_test

import (
	"context"
	stdSQL "database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/passpush/passpush/adapters/watermillsqlite"
)

// Only warnings and errors: the subscribers log every schema initialisation at
// Info, which would bury the interesting lines (e.g. SQLITE_BUSY).
var logger = watermill.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

var features = tests.Features{
	ConsumerGroups:      true,
	ExactlyOnceDelivery: true,
	GuaranteedOrder:     true,
	Persistent:          true,
}

// openDB opens a fresh database file with the same DSN options as production.
func openDB(t *testing.T) *stdSQL.DB {
	t.Helper()

	dsn := "file:" + filepath.Join(t.TempDir(), "watermill.db") +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := stdSQL.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Ping())

	return db
}

// The universal suite calls the constructor several times per test and expects
// every pub/sub of one test to see the same messages, so the database is
// shared per *testing.T.
var (
	testDBsMu sync.Mutex
	testDBs   = map[*testing.T]*stdSQL.DB{}
)

func testDB(t *testing.T) *stdSQL.DB {
	testDBsMu.Lock()
	defer testDBsMu.Unlock()

	if db, ok := testDBs[t]; ok {
		return db
	}
	db := openDB(t)
	testDBs[t] = db
	t.Cleanup(func() {
		testDBsMu.Lock()
		delete(testDBs, t)
		testDBsMu.Unlock()
	})

	return db
}

func newPubSub(t *testing.T, db *stdSQL.DB, consumerGroup string, batchSize int) (message.Publisher, message.Subscriber) {
	schemaAdapter := watermillsqlite.SchemaAdapter{SubscribeBatchSize: batchSize}

	publisher, err := sql.NewPublisher(db, sql.PublisherConfig{SchemaAdapter: schemaAdapter}, logger)
	require.NoError(t, err)

	subscriber, err := sql.NewSubscriber(db, sql.SubscriberConfig{
		ConsumerGroup:    consumerGroup,
		PollInterval:     10 * time.Millisecond,
		ResendInterval:   5 * time.Millisecond,
		SchemaAdapter:    schemaAdapter,
		OffsetsAdapter:   watermillsqlite.OffsetsAdapter{},
		InitializeSchema: true,
	}, logger)
	require.NoError(t, err)

	return publisher, subscriber
}

func createPubSub(t *testing.T) (message.Publisher, message.Subscriber) {
	return newPubSub(t, testDB(t), "test", 0)
}

func createPubSubWithConsumerGroup(t *testing.T, consumerGroup string) (message.Publisher, message.Subscriber) {
	return newPubSub(t, testDB(t), consumerGroup, 0)
}

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()

	tests.TestPubSub(t, features, createPubSub, createPubSubWithConsumerGroup)
}

// Small batches exercise acking and re-querying across batch boundaries,
// which the default batch of 100 rarely reaches in the suite.
func TestPublishSubscribe_small_batches(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name      string
		batchSize int
		test      func(*testing.T, tests.TestContext, tests.PubSubConstructor)
	}{
		{"TestPublishSubscribe_1", 1, tests.TestPublishSubscribe},
		{"TestConcurrentSubscribe_5", 5, tests.TestConcurrentSubscribe},
		{"TestPublishSubscribeInOrder_5", 5, tests.TestPublishSubscribeInOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			tc.test(t, tests.TestContext{TestID: tests.NewTestID(), Features: features},
				func(t *testing.T) (message.Publisher, message.Subscriber) {
					return newPubSub(t, testDB(t), "test", tc.batchSize)
				})
		})
	}
}

// TestTransactionalPublish checks the outbox use: a message published in a
// rolled-back transaction is never delivered, one published in a committed
// transaction is delivered exactly once to each consumer group and stays in
// the table after being acked.
func TestTransactionalPublish(t *testing.T) {
	t.Parallel()

	db := openDB(t)
	const topic = "tx_publish"

	// The publisher cannot create tables inside a caller's transaction, so the
	// schema comes first, the way our migrations provide it.
	_, err := db.Exec(watermillsqlite.SchemaSQL(topic))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Subscribing before publishing makes the subscribers poll throughout, so a
	// rolled-back row would be delivered if it were ever visible.
	groups := map[string]<-chan *message.Message{}
	for _, group := range []string{"group_a", "group_b"} {
		_, sub := newPubSub(t, db, group, 0)
		defer func() { require.NoError(t, sub.Close()) }()
		msgs, err := sub.Subscribe(ctx, topic)
		require.NoError(t, err)
		groups[group] = msgs
	}

	publishInTx := func(uuid string, commit bool) {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		pub, err := sql.NewPublisher(tx, sql.PublisherConfig{SchemaAdapter: watermillsqlite.SchemaAdapter{}}, logger)
		require.NoError(t, err)
		require.NoError(t, pub.Publish(topic, message.NewMessage(uuid, []byte(uuid))))
		if commit {
			require.NoError(t, tx.Commit())
		} else {
			require.NoError(t, tx.Rollback())
		}
	}
	publishInTx("rolled-back", false)
	publishInTx("committed", true)

	for group, msgs := range groups {
		select {
		case msg := <-msgs:
			assert.Equal(t, "committed", msg.UUID, group)
			assert.Equal(t, "committed", string(msg.Payload), group)
			msg.Ack()
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: committed message not delivered", group)
		}
	}

	for group, msgs := range groups {
		select {
		case msg := <-msgs:
			t.Errorf("%s: unexpected second delivery of %s", group, msg.UUID)
		case <-time.After(300 * time.Millisecond):
		}
	}

	// A new subscriber of a group resumes after the acked offset.
	_, sub := newPubSub(t, db, "group_a", 0)
	defer func() { require.NoError(t, sub.Close()) }()
	msgs, err := sub.Subscribe(ctx, topic)
	require.NoError(t, err)
	select {
	case msg := <-msgs:
		t.Errorf("group_a: redelivered %s to a new subscriber", msg.UUID)
	case <-time.After(300 * time.Millisecond):
	}

	var count int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM "watermill_tx_publish"`).Scan(&count))
	assert.Equal(t, 1, count, "acked message must be kept and the rolled-back one must not exist")
}
