package eventstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// newStore returns an event store on a fresh database of this run's back end, publishing with the real
// Watermill publisher so the tests can see the messages.
func newStore(t *testing.T) (*sqldb.DB, *eventstore.Store) {
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
	return db, store
}

func event(tenantID, streamID string, version int) eventstore.Event {
	return eventstore.Event{
		TenantID: tenantID,
		StreamID: streamID,
		Version:  version,
		Type:     "Tested",
		Payload:  json.RawMessage(fmt.Sprintf(`{"tenant":%q,"stream":%q,"version":%d}`, tenantID, streamID, version)),
	}
}

func appendEvents(t *testing.T, store *eventstore.Store, events ...eventstore.Event) []eventstore.Event {
	t.Helper()
	stored, err := store.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return stored
}

func countEvents(t *testing.T, db *sqldb.DB) int {
	return contracttest.Count(t, db, `SELECT count(*) FROM events`)
}

func countMessages(t *testing.T, db *sqldb.DB) int {
	return contracttest.Count(t, db, `SELECT count(*) FROM watermill_events`)
}

func ids(events []eventstore.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// assertSameEvent compares every field; times with Equal, since the back end may hand them back in another
// location.
func assertSameEvent(t *testing.T, got, want eventstore.Event) {
	t.Helper()
	if !got.OccurredAt.Equal(want.OccurredAt) {
		t.Errorf("event %s: occurred at %s, want %s", want.ID, got.OccurredAt.Format(time.RFC3339Nano), want.OccurredAt.Format(time.RFC3339Nano))
	}
	got.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("event %s: payload %s, want %s", want.ID, got.Payload, want.Payload)
	}
	got.Payload, want.Payload = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// readAllEventually pages through ReadAll until it has n events. On PostgreSQL an event only shows once every
// transaction older than its own has ended, in any database of the server, so a test waits for it.
func readAllEventually(t *testing.T, store *eventstore.Store, after eventstore.Position, n int) []eventstore.Event {
	t.Helper()
	var got []eventstore.Event
	contracttest.Eventually(t, func() bool {
		var err error
		got, err = store.ReadAll(context.Background(), after, n+10)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		return len(got) >= n
	}, "ReadAll returns %d events (has %d)", n, len(got))
	return got
}

func TestAppend_loadReturnsEveryField(t *testing.T) {
	t.Parallel()
	_, store := newStore(t)
	ctx := context.Background()

	given := event("t1", "pass-p1", 1)
	given.ID = "0190a6a4-0000-7000-8000-000000000001"
	given.CorrelationID = "corr-1"
	given.Payload = json.RawMessage(`{"passType":"loyalty","data":{"points":"1","ünïcode":"✓"}}`)
	// Microseconds: the precision both back ends keep.
	given.OccurredAt = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("CET", 3600))
	stamped := event("t1", "pass-p1", 2)
	stamped.Type = "PassDataChanged"
	stamped.CorrelationID = "corr-2"

	before := time.Now()
	stored, err := store.Append(ctx, []eventstore.Event{given, stamped})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("append returned %d events, want 2", len(stored))
	}
	if stored[0].ID != given.ID {
		t.Errorf("append replaced the given id %s with %s", given.ID, stored[0].ID)
	}
	if stored[1].ID == "" || stored[1].ID == stored[0].ID {
		t.Errorf("append gave the second event id %q", stored[1].ID)
	}
	if !stored[0].OccurredAt.Equal(given.OccurredAt) {
		t.Errorf("append replaced the given occurred-at %s with %s", given.OccurredAt, stored[0].OccurredAt)
	}
	if at := stored[1].OccurredAt; at.Before(before.Add(-time.Millisecond)) || at.After(after.Add(time.Millisecond)) {
		t.Errorf("append stamped occurred-at %s, want between %s and %s", at, before, after)
	}
	if !stored[1].Position.After(stored[0].Position) || !stored[0].Position.After(eventstore.Position{}) {
		t.Errorf("positions %+v then %+v, want increasing and after the start", stored[0].Position, stored[1].Position)
	}

	loaded, err := store.Load(ctx, "t1", "pass-p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded["pass-p1"]) != 2 {
		t.Fatalf("loaded %d events, want 2", len(loaded["pass-p1"]))
	}
	for i := range stored {
		assertSameEvent(t, loaded["pass-p1"][i], stored[i])
	}

	all := readAllEventually(t, store, eventstore.Position{}, 2)
	for i := range stored {
		assertSameEvent(t, all[i], stored[i])
	}
}

// TestAppend_publishesEachEventOnTheEventsTopic: an append is one message, a batch of its events in order.
func TestAppend_publishesEachEventOnTheEventsTopic(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	stored := appendEvents(t, store, event("t1", "s1", 1), event("t1", "s1", 2), event("t2", "s2", 1))
	stored = append(stored, appendEvents(t, store, event("t1", "s1", 3))...)

	rows, err := db.QueryContext(context.Background(), `SELECT payload FROM watermill_events ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var published []eventstore.Event
	messages := 0
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var batch eventstore.Batch
		if err := json.Unmarshal(payload, &batch); err != nil {
			t.Fatalf("message payload %s: %v", payload, err)
		}
		messages++
		published = append(published, batch.Events...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if messages != 2 {
		t.Errorf("published %d messages, want one per append", messages)
	}
	if len(published) != len(stored) {
		t.Fatalf("published %d events, want %d", len(published), len(stored))
	}
	for i := range stored {
		assertSameEvent(t, published[i], stored[i])
	}
}

func TestAppend_takenVersionConflictsAndStoresNothingOfTheBatch(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	ctx := context.Background()
	appendEvents(t, store, event("t1", "s1", 1))

	_, err := store.Append(ctx, []eventstore.Event{event("t1", "s2", 1), event("t1", "s1", 2), event("t1", "s1", 1)})
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("append of a taken version: err = %v, want eventstore.ErrConflict", err)
	}
	if n := countEvents(t, db); n != 1 {
		t.Errorf("%d events stored, want only the first append's", n)
	}
	if n := countMessages(t, db); n != 1 {
		t.Errorf("%d messages published, want only the first append's", n)
	}
	loaded, err := store.Load(ctx, "t1", "s1", "s2")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded["s1"]) != 1 || len(loaded["s2"]) != 0 {
		t.Errorf("loaded %d events of s1 and %d of s2, want 1 and 0", len(loaded["s1"]), len(loaded["s2"]))
	}

	// The same version under another tenant is another stream.
	appendEvents(t, store, event("t2", "s1", 1))
	// The next free version still goes in.
	appendEvents(t, store, event("t1", "s1", 2))
}

func TestAppend_conflictInALaterChunkStoresNothingOfTheBatch(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	appendEvents(t, store, event("t1", "hot", 1))

	// Large enough that the store inserts it in more than one statement (500 events each); only the last event
	// conflicts. (Kept at the smallest size that does: one 500-row statement costs seconds on SQLite under -race.)
	batch := make([]eventstore.Event, 0, 502)
	for v := 1; v <= 501; v++ {
		batch = append(batch, event("t1", "big", v))
	}
	batch = append(batch, event("t1", "hot", 1))
	if _, err := store.Append(context.Background(), batch); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("err = %v, want eventstore.ErrConflict", err)
	}
	if n := countEvents(t, db); n != 1 {
		t.Errorf("%d events stored, want 1: the batch must go in whole or not at all", n)
	}
	if n := countMessages(t, db); n != 1 {
		t.Errorf("%d messages published, want 1", n)
	}
}

func TestAppend_inRolledBackTransactionLeavesNoEventAndNoMessage(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	ctx := context.Background()
	errAbandon := errors.New("abandon")

	err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := store.Append(ctx, []eventstore.Event{event("t1", "s1", 1), event("t1", "s2", 1)}); err != nil {
			return err
		}
		return errAbandon
	})
	if !errors.Is(err, errAbandon) {
		t.Fatalf("InTx = %v, want the function's error", err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(sqldb.WithTx(ctx, tx), []eventstore.Event{event("t1", "s3", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	if n := countEvents(t, db); n != 0 {
		t.Errorf("%d events stored by rolled-back transactions", n)
	}
	if n := countMessages(t, db); n != 0 {
		t.Errorf("%d messages published by rolled-back transactions", n)
	}
}

func TestAppend_inCommittedTransactionStoresEventAndMessageTogether(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	ctx := context.Background()
	err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := store.Append(ctx, []eventstore.Event{event("t1", "s1", 1)}); err != nil {
			return err
		}
		_, err := store.Append(ctx, []eventstore.Event{event("t1", "s1", 2)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, m := countEvents(t, db), countMessages(t, db); e != 2 || m != 2 {
		t.Errorf("%d events and %d messages, want 2 and 2", e, m)
	}
}

func TestAppend_conflictInsideATransactionLeavesItUsable(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	ctx := context.Background()
	appendEvents(t, store, event("t1", "s1", 1))

	// A conflicting append that joins a caller's transaction must not poison it (on PostgreSQL a failed statement
	// aborts the whole transaction): the caller can still append elsewhere and commit.
	err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := store.Append(ctx, []eventstore.Event{event("t1", "s1", 1)}); !errors.Is(err, eventstore.ErrConflict) {
			return fmt.Errorf("conflicting append: err = %v, want ErrConflict", err)
		}
		_, err := store.Append(ctx, []eventstore.Event{event("t1", "s2", 1)})
		return err
	})
	if err != nil {
		t.Fatalf("a conflict broke the caller's transaction: %v", err)
	}
	if n := countEvents(t, db); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

func TestAppend_nothingIsANoOp(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	stored, err := store.Append(context.Background(), nil)
	if err != nil || len(stored) != 0 {
		t.Errorf("Append(nil) = %v, %v", stored, err)
	}
	if e, m := countEvents(t, db), countMessages(t, db); e != 0 || m != 0 {
		t.Errorf("%d events and %d messages after an empty append", e, m)
	}
}

func TestLoad_isScopedToTenant(t *testing.T) {
	t.Parallel()
	_, store := newStore(t)
	ctx := context.Background()
	a := appendEvents(t, store, event("tenant-a", "pass-p1", 1), event("tenant-a", "pass-p1", 2))
	b := appendEvents(t, store, event("tenant-b", "pass-p1", 1))

	for _, tc := range []struct {
		tenant string
		want   []eventstore.Event
	}{
		{"tenant-a", a},
		{"tenant-b", b},
		{"tenant-c", nil},
	} {
		loaded, err := store.Load(ctx, tc.tenant, "pass-p1")
		if err != nil {
			t.Fatal(err)
		}
		got := loaded["pass-p1"]
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("Load(%s) = %v, want %v", tc.tenant, ids(got), ids(tc.want))
		}
		for _, e := range got {
			if e.TenantID != tc.tenant {
				t.Errorf("Load(%s) returned an event of %s", tc.tenant, e.TenantID)
			}
		}
	}
}

func TestLoad_returnsEachStreamInVersionOrder(t *testing.T) {
	t.Parallel()
	_, store := newStore(t)
	// Interleaved appends, so the global order differs from each stream's order.
	s2v1 := appendEvents(t, store, event("t1", "s2", 1))
	s1v1 := appendEvents(t, store, event("t1", "s1", 1))
	rest := appendEvents(t, store, event("t1", "s2", 2), event("t1", "s1", 2), event("t1", "s1", 3))

	loaded, err := store.Load(context.Background(), "t1", "s1", "s2", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{s1v1[0].ID, rest[1].ID, rest[2].ID}; !slices.Equal(ids(loaded["s1"]), want) {
		t.Errorf("s1 = %v, want %v", ids(loaded["s1"]), want)
	}
	if want := []string{s2v1[0].ID, rest[0].ID}; !slices.Equal(ids(loaded["s2"]), want) {
		t.Errorf("s2 = %v, want %v", ids(loaded["s2"]), want)
	}
	if len(loaded["missing"]) != 0 {
		t.Errorf("a stream without events loaded %v", ids(loaded["missing"]))
	}
}

func TestLoad_manyStreamsAtOnce(t *testing.T) {
	t.Parallel()
	_, store := newStore(t)
	// More streams than one query takes (500).
	var streams []string
	for i := range 510 {
		streams = append(streams, fmt.Sprintf("s%04d", i))
	}
	for start := 0; start < len(streams); start += 50 {
		var batch []eventstore.Event
		for _, id := range streams[start:min(start+50, len(streams))] {
			batch = append(batch, event("t1", id, 1))
		}
		appendEvents(t, store, batch...)
	}
	loaded, err := store.Load(context.Background(), "t1", streams...)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(streams) {
		t.Errorf("loaded %d streams, want %d", len(loaded), len(streams))
	}
	for _, id := range streams {
		if len(loaded[id]) != 1 || loaded[id][0].StreamID != id {
			t.Fatalf("stream %s loaded %d events, want its 1", id, len(loaded[id]))
		}
	}
}

func TestReadAll_returnsEveryTenantInGlobalOrderAndPagesWithCursor(t *testing.T) {
	t.Parallel()
	_, store := newStore(t)
	var want []eventstore.Event
	for _, batch := range [][]eventstore.Event{
		{event("t1", "s1", 1)},
		{event("t2", "s1", 1), event("t2", "s1", 2)},
		{event("t1", "s2", 1)},
		{event("t1", "s1", 2), event("t3", "x", 1), event("t1", "s2", 2)},
		{event("t2", "s9", 1)},
	} {
		want = append(want, appendEvents(t, store, batch...)...)
	}

	all := readAllEventually(t, store, eventstore.Position{}, len(want))
	if !slices.Equal(ids(all), ids(want)) {
		t.Fatalf("ReadAll = %v, want the append order %v", ids(all), ids(want))
	}
	for i := range want {
		if all[i].Position != want[i].Position || all[i].TenantID != want[i].TenantID {
			t.Errorf("event %d at %+v of %s, want %+v of %s", i, all[i].Position, all[i].TenantID, want[i].Position, want[i].TenantID)
		}
	}

	for _, limit := range []int{1, 2, 3, len(want)} {
		var paged []eventstore.Event
		var cursor eventstore.Position
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page, err := store.ReadAll(context.Background(), cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			cursor = page[len(page)-1].Position
		}
		if !slices.Equal(ids(paged), ids(want)) {
			t.Errorf("limit %d: pages = %v, want %v", limit, ids(paged), ids(want))
		}
	}

	rest, err := store.ReadAll(context.Background(), want[3].Position, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rest), ids(want[4:])) {
		t.Errorf("ReadAll after the 4th event = %v, want %v", ids(rest), ids(want[4:]))
	}
}

// TestReadAll_holdsBackEventsOfYoungerTransactionsUntilOlderOnesCommit is the late commit a reader must not skip.
// Transaction A takes its id first and appends last; B appends and commits while A is still open. B's event has
// the lower sequence number but the younger transaction: a reader that took it and moved its cursor past it would
// never see A's. So ReadAll shows neither until A commits, and then both, A first, in (transaction, sequence)
// order.
func TestReadAll_holdsBackEventsOfYoungerTransactionsUntilOlderOnesCommit(t *testing.T) {
	t.Parallel()
	db, store := newStore(t)
	if db.Dialect.Name != sqldb.Postgres.Name {
		t.Skip("SQLite has a single writer: a transaction commits before the next one can append, so no commit is late")
	}
	ctx := context.Background()
	c := appendEvents(t, store, event("t1", "c", 1))

	txA, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = txA.Rollback() }()
	if _, err := txA.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}

	b := appendEvents(t, store, event("t1", "b", 1))
	a, err := store.Append(sqldb.WithTx(ctx, txA), []eventstore.Event{event("t1", "a", 1)})
	if err != nil {
		t.Fatal(err)
	}
	// The premise: A's transaction is older, its sequence number is not.
	if pa, pb := a[0].Position, b[0].Position; pa.TransactionID >= pb.TransactionID || pa.Sequence <= pb.Sequence {
		t.Fatalf("A at %+v and B at %+v: want A's transaction older and its sequence later", pa, pb)
	}

	seen := readAllEventually(t, store, eventstore.Position{}, 1)
	if !slices.Equal(ids(seen), ids(c)) {
		t.Fatalf("while A is open ReadAll = %v, want only the event committed before A began %v", ids(seen), ids(c))
	}
	cursor := seen[0].Position

	if err := txA.Commit(); err != nil {
		t.Fatal(err)
	}
	rest := readAllEventually(t, store, cursor, 2)
	if want := []string{a[0].ID, b[0].ID}; !slices.Equal(ids(rest), want) {
		t.Fatalf("after A commits ReadAll = %v, want A then B %v", ids(rest), want)
	}
	if !rest[1].Position.After(rest[0].Position) {
		t.Errorf("positions %+v then %+v are not in order", rest[0].Position, rest[1].Position)
	}
}
