package service_test

// Issue 14 §4 "Retention": the message tables keep what a consumer group may still read and what is recent.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/service"
)

// retentionConfig keeps the background pruner out of the way (it runs at start, then hourly), so the test
// decides when to prune.
func retentionConfig() service.Config {
	return service.Config{Retention: messaging.RetentionConfig{Retention: time.Hour, Interval: time.Hour, Batch: 7}}
}

// TestPruneMessages_keepsWhatAGroupMayStillReadAndWhatIsRecent: the real projections and command handler
// acknowledge every message; pruning deletes those past the retention, in batches smaller than what is there,
// and keeps the recent ones, the ones a lagging consumer group has not read yet, and the poison topic. The
// service goes on delivering afterwards.
func TestPruneMessages_keepsWhatAGroupMayStillReadAndWhatIsRecent(t *testing.T) {
	h, jb, _ := deliveryFixture(t, retentionConfig(), 4)
	ctx := context.Background()
	db := h.svc.DB
	for i := range 20 {
		jb.schedule(fmt.Sprintf("p-%d", i%4+1), fmt.Sprintf("old-%d", i))
	}
	settledAt(h, 20)
	if _, err := db.ExecContext(ctx, `INSERT INTO watermill_poison (uuid, payload, metadata`+txColumn(db)+`) VALUES ('poisoned', '{}', '{}'`+txValue(db)+`)`); err != nil {
		t.Fatal(err)
	}
	n, err := h.svc.PruneMessages(ctx)
	if err != nil || n != 0 {
		t.Fatalf("pruned %d messages (%v) that are all within the retention, want none", n, err)
	}

	// Everything so far is two hours old; a group that exists has read only the first event message.
	for _, table := range []string{"watermill_events", "watermill_commands", "watermill_poison"} {
		age(t, db, table)
	}
	oldEvents, oldCommands := countRows(t, db, "watermill_events"), countRows(t, db, "watermill_commands")
	if oldEvents < 2 || oldCommands < 2 {
		t.Fatalf("%d event and %d command messages, want at least 2 of each", oldEvents, oldCommands)
	}
	laggard(t, db, 1)
	for i := range 8 {
		jb.schedule(fmt.Sprintf("p-%d", i%4+1), fmt.Sprintf("new-%d", i))
	}
	settledAt(h, 28)
	newEvents, newCommands := countRows(t, db, "watermill_events")-oldEvents, countRows(t, db, "watermill_commands")-oldCommands

	if _, err := h.svc.PruneMessages(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := countRows(t, db, "watermill_commands"), newCommands; got != want {
		t.Errorf("%d command messages left, want the %d recent ones", got, want)
	}
	if got, want := countRows(t, db, "watermill_events"), oldEvents-1+newEvents; got != want {
		t.Errorf("%d event messages left, want %d: the %d old ones the lagging group has not read and the %d recent ones",
			got, want, oldEvents-1, newEvents)
	}
	if got := countRows(t, db, "watermill_poison"); got != 1 {
		t.Errorf("%d poison messages left, want 1: the poison topic is never pruned", got)
	}

	// Once the group has gone, the old events go too.
	if _, err := db.ExecContext(ctx, `DELETE FROM watermill_offsets_events WHERE consumer_group = 'laggard'`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.PruneMessages(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, db, "watermill_events"); got != newEvents {
		t.Errorf("%d event messages left, want the %d recent ones", got, newEvents)
	}
	jb.schedule("p-1", "after-pruning")
	if o := h.outcomeOf("p-1", "after-pruning"); o.typ != "PushUpdateEmitted" {
		t.Errorf("an update scheduled after pruning ended %s, want PushUpdateEmitted", o.typ)
	}
}

// txColumn and txValue complete an INSERT into a PostgreSQL message table, which needs a transaction id.
func txColumn(db *sqldb.DB) string {
	if db.Dialect.Name == sqldb.Postgres.Name {
		return ", transaction_id"
	}
	return ""
}

func txValue(db *sqldb.DB) string {
	if db.Dialect.Name == sqldb.Postgres.Name {
		return ", pg_current_xact_id()"
	}
	return ""
}

// age makes every message of table two hours older.
func age(t *testing.T, db *sqldb.DB, table string) {
	t.Helper()
	q := `UPDATE ` + table + ` SET created_at = created_at - interval '2 hours'`
	if db.Dialect.Name != sqldb.Postgres.Name {
		q = `UPDATE ` + table + ` SET created_at = datetime(created_at, '-2 hours')`
	}
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// laggard adds a consumer group of the event topic that has acknowledged the first n messages only.
func laggard(t *testing.T, db *sqldb.DB, n int) {
	t.Helper()
	q := `INSERT INTO watermill_offsets_events (consumer_group, offset_acked)
		SELECT 'laggard', "offset" FROM watermill_events ORDER BY "offset" LIMIT 1 OFFSET $1`
	if db.Dialect.Name == sqldb.Postgres.Name {
		q = `INSERT INTO watermill_offsets_events (consumer_group, offset_acked, last_processed_transaction_id)
			SELECT 'laggard', "offset", transaction_id FROM watermill_events ORDER BY transaction_id, "offset" LIMIT 1 OFFSET $1`
	}
	if _, err := db.ExecContext(context.Background(), q, n-1); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// settledAt waits until the store holds n scheduled updates and each has its outcome: execute answers once the
// command is sent, before it is handled, so settled alone may look before the updates are there.
func settledAt(h *harness, n int) {
	h.t.Helper()
	poll(h.t, 30*time.Second, 20*time.Millisecond, fmt.Sprintf("%d scheduled updates", n), func() bool {
		return len(h.storedOfType("PassUpdateScheduled")) >= n
	})
	h.settled(30 * time.Second)
}
