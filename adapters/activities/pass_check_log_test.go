package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/activity"
)

// An internal test: it reads how many decisions wait for the writer, to fill a group while the database is held.

func newPassCheckLog(t *testing.T) (*PassCheckLog, *sqldb.DB) {
	t.Helper()
	db := sqldbtest.New(t)
	publisher, err := messaging.NewEventPublisher(db, messaging.NewLogger(contracttest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.New(db, publisher)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewPassCheckLog(store)
	if err != nil {
		t.Fatal(err)
	}
	return l, db
}

// storedDecisions counts the stored PassCheckDecided events by pass id.
func storedDecisions(t *testing.T, db *sqldb.DB) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT `+eventstore.PayloadColumns+` FROM events WHERE event_type = $1`, activity.PassCheckDecidedName)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]int{}
	for rows.Next() {
		var text string
		var packed []byte
		if err := rows.Scan(&text, &packed); err != nil {
			t.Fatal(err)
		}
		payload, err := eventstore.DecodePayload(text, packed)
		if err != nil {
			t.Fatal(err)
		}
		var d activity.PassCheckDecided
		if err := json.Unmarshal(payload, &d); err != nil {
			t.Fatal(err)
		}
		stored[d.PassID]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return stored
}

func decision(passID string) activity.PassCheckDecided {
	return activity.PassCheckDecided{Branch: "not_installed", PassID: passID, JourneyID: "journey-1"}
}

// recordAll records a decision for each pass id at once and returns each one's error.
func recordAll(l *PassCheckLog, passIDs []string) map[string]error {
	var mu sync.Mutex
	errs := make(map[string]error, len(passIDs))
	var wg sync.WaitGroup
	for _, id := range passIDs {
		wg.Go(func() {
			err := l.Record(correlation.WithID(context.Background(), id), "acme", decision(id))
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

func TestPassCheckLog_concurrentDecisionsAreEachRecordedOnceInFewerAppends(t *testing.T) {
	l, db := newPassCheckLog(t)
	const calls = 200
	ids := make([]string, calls)
	for i := range ids {
		ids[i] = fmt.Sprintf("p-%03d", i)
	}
	for id, err := range recordAll(l, ids) {
		if err != nil {
			t.Errorf("record %s: %v", id, err)
		}
	}
	stored := storedDecisions(t, db)
	for _, id := range ids {
		if stored[id] != 1 {
			t.Errorf("decision %s stored %d times, want once", id, stored[id])
		}
	}
	if len(stored) != calls {
		t.Errorf("%d passes have decisions, want %d", len(stored), calls)
	}
	// Each append is one message on the event bus, which is what the projections pay for.
	var messages int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM watermill_events`).Scan(&messages); err != nil {
		t.Fatal(err)
	}
	if messages < 1 || messages >= calls {
		t.Fatalf("%d concurrent decisions were appended as %d messages, want fewer messages than decisions", calls, messages)
	}
}

// poisonDecisions makes the database refuse, with an error, any insert of an event whose correlation id says
// "poison" (the tests record each decision with its pass id as the correlation id; the payload is deflated):
// a real failure of the append's statement, part way through a group.
func poisonDecisions(t *testing.T, db *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	statements := []string{`CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.correlation_id LIKE '%poison%'
		BEGIN SELECT RAISE(ABORT, 'poisoned decision'); END`}
	if db.Dialect.Name == sqldb.Postgres.Name {
		statements = []string{
			`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.correlation_id LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned decision'; END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison()`,
		}
	}
	for _, s := range statements {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("poison decisions: %v", err)
		}
	}
}

// holdWrites holds the events table until release: on SQLite the only write connection, on PostgreSQL a lock
// that inserts wait for.
func holdWrites(t *testing.T, db *sqldb.DB) (release func()) {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if db.Dialect.Name == sqldb.Postgres.Name {
		if _, err := tx.Exec(`LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPassCheckLog_aFailedAppendFailsEveryDecisionInItAndStoresNone(t *testing.T) {
	l, db := newPassCheckLog(t)
	poisonDecisions(t, db)
	release := holdWrites(t, db)

	// The first decision's append waits on the held table; the next ones queue behind it and go together into
	// the second append, with the poisoned one among them.
	first := make(chan error, 1)
	go func() { first <- l.Record(context.Background(), "acme", decision("first")) }()
	waitFor(t, "the first append to start", func() bool { return l.writer.Running() == 1 && l.writer.Queued() == 0 })
	group := []string{"g-00", "g-01", "g-02", "g-03", "g-04", "g-05", "g-06", "g-07", "poison", "g-08", "g-09"}
	var errs map[string]error
	done := make(chan struct{})
	go func() {
		errs = recordAll(l, group)
		close(done)
	}()
	waitFor(t, "the group to queue", func() bool { return l.writer.Queued() == len(group) })
	release()

	if err := <-first; err != nil {
		t.Fatalf("the first decision, alone in its append: %v", err)
	}
	<-done
	for _, id := range group {
		if errs[id] == nil {
			t.Errorf("decision %s was acknowledged, though its append failed on the poisoned one", id)
		}
	}
	stored := storedDecisions(t, db)
	if stored["first"] != 1 || len(stored) != 1 {
		t.Fatalf("stored decisions %v, want only the first's, once", stored)
	}

	// The writer goes on after a failed append.
	for id, err := range recordAll(l, []string{"after-1", "after-2", "after-3"}) {
		if err != nil {
			t.Errorf("record %s after the failed append: %v", id, err)
		}
	}
	if stored := storedDecisions(t, db); len(stored) != 4 || stored["after-1"] != 1 || stored["after-2"] != 1 || stored["after-3"] != 1 {
		t.Fatalf("stored decisions %v, want first and after-1 to after-3, once each", stored)
	}
}

func TestPassCheckLog_noAcknowledgedDecisionIsLostAmongFailingAppends(t *testing.T) {
	l, db := newPassCheckLog(t)
	poisonDecisions(t, db)
	// Decisions from 32 callers at once, one in ten poisoned: the appends that hold one fail, the others commit.
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Go(func() {
			for i := range 15 {
				id := fmt.Sprintf("c%02d-%02d", c, i)
				if (c*15+i)%10 == 7 {
					id = "poison-" + id
				}
				err := l.Record(correlation.WithID(context.Background(), id), "acme", decision(id))
				mu.Lock()
				errs[id] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stored := storedDecisions(t, db)
	acknowledged, failed := 0, 0
	for id, err := range errs {
		switch {
		case err == nil && stored[id] != 1:
			t.Errorf("decision %s was acknowledged and stored %d times, want once", id, stored[id])
		case err != nil && stored[id] != 0:
			t.Errorf("decision %s failed (%v) but is stored %d times", id, err, stored[id])
		}
		if err == nil {
			acknowledged++
		} else {
			failed++
		}
	}
	if acknowledged == 0 || failed == 0 {
		t.Fatalf("%d acknowledged, %d failed: want both", acknowledged, failed)
	}
	if len(stored) != acknowledged {
		t.Fatalf("%d decisions stored, %d acknowledged", len(stored), acknowledged)
	}
}
