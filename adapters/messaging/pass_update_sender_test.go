package messaging_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
)

// TestPassUpdateSender_callsDuringAWriteShareTheNext: while a partition's writes wait on the database, the calls
// that come in wait for them and are then stored together, in no more messages than writes may be in flight plus
// one; every call returns once its updates are stored, and the handler gets each update once, a pass's updates in
// the order they were sent.
func TestPassUpdateSender_callsDuringAWriteShareTheNext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var mu sync.Mutex
	var handled []command.ScheduleJourneyPassUpdate
	if err := h.bus.AddCommandHandler(cqrs.NewCommandHandler("ScheduleJourneyPassUpdates",
		func(ctx context.Context, cmd *command.ScheduleJourneyPassUpdates) error {
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, cmd.Updates...)
			return nil
		})); err != nil {
		t.Fatal(err)
	}
	sender, err := messaging.NewPassUpdateSender(h.bus, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	ctx := contracttest.Context(t)

	hold, partitions := holdCommandTables(t, h)
	update := func(passID string, n int) command.ScheduleJourneyPassUpdate {
		u := command.ScheduleJourneyPassUpdate{TenantID: "t1", PassID: passID, CorrelationID: fmt.Sprintf("%s-%d", passID, n)}
		u.Update.ActivityID, u.Update.DefinitionInstanceID = "a1", fmt.Sprint(n)
		return u
	}
	const calls = 12
	errs := make(chan error, calls+1)
	first := make(chan struct{})
	go func() {
		close(first)
		errs <- sender.SendPassUpdates(ctx, update("first", 0))
	}()
	<-first
	time.Sleep(100 * time.Millisecond) // the first call's write is now waiting on the database
	var wg, calling sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		calling.Add(1)
		go func() {
			defer wg.Done()
			calling.Done()
			// Two updates in one call, as for a contact with two passes.
			errs <- sender.SendPassUpdates(ctx, update(fmt.Sprintf("p%d", i), 1), update(fmt.Sprintf("q%d", i), 1))
		}()
	}
	// The writes are let go once every call is on its way in, not at a fixed time after the calls were started:
	// on a loaded machine goroutines started 200 ms before had not all made their call yet, and the late ones made
	// a third message.
	calling.Wait()
	time.Sleep(300 * time.Millisecond)
	_ = hold.Rollback()
	wg.Wait()
	for range calls + 1 {
		if err := <-errs; err != nil {
			t.Fatalf("a call failed: %v", err)
		}
	}
	// A call returns once its updates are stored, so they are all in the tables now.
	messages := 0
	for i := range partitions {
		messages += contracttest.Count(t, h.db, `SELECT count(*) FROM watermill_`+messaging.CommandTopic(i))
	}
	// While the tables are held, each partition has its writes in flight waiting, and the calls that came after
	// those writes took theirs wait for one of them to finish and are then stored in one more message. Which calls
	// a held write took depends on how fast the goroutines were started, so only the bound is certain.
	if limit := (messaging.WritesInFlight + 1) * partitions; messages > limit {
		t.Errorf("%d messages for %d calls made while writes were waiting, want them to share writes (at most %d per partition, %d)",
			messages, calls+1, messaging.WritesInFlight+1, limit)
	}

	// Sequential calls for one pass keep their order.
	for n := range 5 {
		if err := sender.SendPassUpdates(ctx, update("ordered", n)); err != nil {
			t.Fatal(err)
		}
	}
	want := 1 + 2*calls + 5
	var got []command.ScheduleJourneyPassUpdate
	contracttest.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = slices.Clone(handled)
		return len(got) >= want
	}, "the handler gets all %d updates", want)
	seen := map[string]int{}
	var ordered []string
	for _, u := range got {
		seen[u.CorrelationID]++
		if u.PassID == "ordered" {
			ordered = append(ordered, u.Update.DefinitionInstanceID)
		}
	}
	if len(got) != want || len(seen) != want {
		t.Errorf("handled %d updates, %d distinct, want %d once each", len(got), len(seen), want)
	}
	if !slices.Equal(ordered, []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("one pass's updates were handled in the order %v, want 0 to 4", ordered)
	}
}

// TestPassUpdateSender_aCallGivesUpWithItsContext: a caller whose context ends stops waiting and gets the error.
func TestPassUpdateSender_aCallGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	sender, err := messaging.NewPassUpdateSender(h.bus, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hold, _ := holdCommandTables(t, h)
	defer func(tx *sql.Tx) { _ = tx.Rollback() }(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = sender.SendPassUpdates(ctx, command.ScheduleJourneyPassUpdate{TenantID: "t1", PassID: "p1"})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v, want the context's error", err)
	}
}

// holdCommandTables makes writes to the command topics wait until the returned transaction ends: it locks every
// command table on PostgreSQL and holds the only writer connection on SQLite. It returns the partition count.
func holdCommandTables(t *testing.T, h harness) (*sql.Tx, int) {
	t.Helper()
	hold, err := h.db.BeginTx(contracttest.Context(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.db.Dialect.Name != sqldb.Postgres.Name {
		return hold, 1
	}
	for i := range messaging.CommandPartitions {
		if _, err := hold.ExecContext(contracttest.Context(t), `LOCK TABLE watermill_`+messaging.CommandTopic(i)+` IN EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
	}
	return hold, messaging.CommandPartitions
}

// TestPassUpdateSender_spreadsPassesOverPartitionsInOrder: with four command partitions, a call's updates go to
// their passes' partitions, each handled once, and the updates of one pass stay in the order they were sent.
func TestPassUpdateSender_spreadsPassesOverPartitionsInOrder(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	bus, err := messaging.New(db, messaging.Config{CommandPartitions: messaging.CommandPartitions}, contracttest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	byPass := map[string][]string{}
	if err := bus.AddCommandHandler(cqrs.NewCommandHandler("ScheduleJourneyPassUpdates",
		func(ctx context.Context, cmd *command.ScheduleJourneyPassUpdates) error {
			mu.Lock()
			defer mu.Unlock()
			for _, u := range cmd.Updates {
				byPass[u.PassID] = append(byPass[u.PassID], u.Update.DefinitionInstanceID)
			}
			return nil
		})); err != nil {
		t.Fatal(err)
	}
	sender, err := messaging.NewPassUpdateSender(bus, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-bus.Running()

	const passCount, rounds = 16, 5
	for round := range rounds {
		var updates []command.ScheduleJourneyPassUpdate
		for p := range passCount {
			u := command.ScheduleJourneyPassUpdate{TenantID: "t1", PassID: fmt.Sprintf("p%02d", p)}
			u.Update.DefinitionInstanceID = fmt.Sprint(round)
			updates = append(updates, u)
		}
		if err := sender.SendPassUpdates(contracttest.Context(t), updates...); err != nil {
			t.Fatal(err)
		}
	}
	used := 0
	for i := range messaging.CommandPartitions {
		if contracttest.Count(t, db, `SELECT count(*) FROM watermill_`+messaging.CommandTopic(i)) > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("%d passes went to %d partitions, want them spread", passCount, used)
	}
	contracttest.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, entries := range byPass {
			n += len(entries)
		}
		return n >= passCount*rounds
	}, "every update is handled")
	mu.Lock()
	defer mu.Unlock()
	for p, entries := range byPass {
		if !slices.Equal(entries, []string{"0", "1", "2", "3", "4"}) {
			t.Errorf("pass %s handled %v, want 0 to 4 once each in order", p, entries)
		}
	}
}
