package service_test

// Issue 14 §4 "Retention": passpush events archive.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/eventarchive"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/rebuild"
)

// TestArchiveEvents_movesWhatNothingNeedsAndEverythingStillWorks: the archive holds exactly the events it
// deleted, each as the store had it; it leaves the tenant's events and an update whose delivery is pending; the
// audit log keeps its rows; the passes still take updates, and a rebuild gives the same read models.
func TestArchiveEvents_movesWhatNothingNeedsAndEverythingStillWorks(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, retentionConfig(), 3)
	ctx := context.Background()
	for i := range 9 {
		jb.schedule(fmt.Sprintf("p-%d", i%3+1), fmt.Sprintf("entry-%d", i))
	}
	settledAt(h, 9)
	// p-3's next update cannot be delivered: its delivery stays pending, with retries.
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, _ int) (int, time.Duration) {
			if msg["passId"] == "p-3" {
				return http.StatusServiceUnavailable, 0
			}
			return 0, 0
		}
	})
	jb.schedule("p-3", "pending")
	var pendingID string
	poll(t, 30*time.Second, 20*time.Millisecond, "p-3's update to be queued", func() bool {
		for _, e := range h.storedOfType("PassUpdateScheduled") {
			if e.payload["definitionInstanceId"] == "pending" {
				pendingID = e.ID
			}
		}
		n, _ := h.svc.Deliveries.Pending(ctx)
		return pendingID != "" && n == 1
	})
	// The projections handle the last outcomes' messages a moment after they are stored.
	poll(t, 30*time.Second, 20*time.Millisecond, "the projections to handle every event", func() bool {
		return countRows(t, h.svc.DB, "audit_log") == len(h.storedEvents())
	})

	before := h.storedEvents()
	auditBefore := countRows(t, h.svc.DB, "audit_log")
	path := filepath.Join(t.TempDir(), "events.jsonl.gz")
	// What a run that died while writing left behind: the next run writes the file afresh.
	if err := os.WriteFile(path+".partial", []byte("half a gzip stream"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.ArchiveEvents(ctx, time.Now().Add(time.Minute), path)
	if err != nil {
		t.Fatal(err)
	}
	after := h.storedEvents()
	archived := archiveLines(t, path)
	if res.Archived != len(archived) || res.Deleted != len(archived) || res.Resumed {
		t.Errorf("result %+v, want %d archived and deleted", res, len(archived))
	}
	wantArchived(t, before, after, archived)
	for _, e := range after {
		if e.ID == pendingID {
			continue
		}
		if strings.HasPrefix(e.StreamID, "pass-") || strings.HasPrefix(e.StreamID, "pushes-") {
			t.Errorf("%s %s of %s stayed in the store: nothing needs it", e.Type, e.ID, e.StreamID)
		}
	}
	if !slices.ContainsFunc(after, func(e eventstore.Event) bool { return e.ID == pendingID }) {
		t.Error("the update whose delivery is pending was archived")
	}
	if !slices.ContainsFunc(after, func(e eventstore.Event) bool { return strings.HasPrefix(e.StreamID, "tenant") }) {
		t.Error("the tenant's events were archived: its stream has no snapshot")
	}
	if got := countRows(t, h.svc.DB, "audit_log"); got != auditBefore {
		t.Errorf("the audit log has %d rows after the archive, want the %d it had", got, auditBefore)
	}
	// The rows of the archived events, and only those, are flagged: they leave the event id's index. The events
	// still in the store, handed to the projection again, add no row.
	wantFlagged(t, h.svc.DB, archived)
	if err := h.svc.AuditLog.Handle(ctx, after); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, h.svc.DB, "audit_log"); got != auditBefore {
		t.Errorf("the audit log has %d rows after the events left in the store were handed over again, want %d", got, auditBefore)
	}

	// The passes load from their snapshots and take updates; p-3's pending delivery goes out.
	rcv.configure(func(r *receiver) { r.behave = nil })
	jb.schedule("p-1", "after-archive")
	if o := h.outcomeOf("p-1", "after-archive"); o.typ != "PushUpdateEmitted" {
		t.Errorf("an update of an archived pass ended %s, want PushUpdateEmitted", o.typ)
	}
	if o := h.outcomeOf("p-3", "pending"); o.typ != "PushUpdateEmitted" {
		t.Errorf("the pending update of an archived pass ended %s, want PushUpdateEmitted", o.typ)
	}
	if got := h.passView("acme", "p-1"); fmt.Sprint(got["data"]) != fmt.Sprint(map[string]any{"entry": "after-archive", "points": "0"}) {
		t.Errorf("p-1 after its update reads %v", got["data"])
	}
	poll(t, 30*time.Second, 20*time.Millisecond, "the projections to handle every event", func() bool {
		return countRows(t, h.svc.DB, "audit_log") == auditBefore+len(h.storedEvents())-len(after)
	})

	// A rebuild gives the same read models.
	models := readModels(t, h.svc.DB)
	auditRows := countRows(t, h.svc.DB, "audit_log")
	if _, err := h.svc.RebuildProjections(ctx, rebuild.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readModels(t, h.svc.DB); !slices.Equal(got, models) {
		t.Errorf("the read models after a rebuild:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(models, "\n"))
	}
	if got := countRows(t, h.svc.DB, "audit_log"); got != auditRows {
		t.Errorf("the audit log has %d rows after a rebuild, want %d", got, auditRows)
	}
	// The rebuild keeps the flags of the rows it carries over, and its new rows are not flagged.
	wantFlagged(t, h.svc.DB, archived)
}

// wantFlagged checks that the audit rows flagged archived are those of the archived events.
func wantFlagged(t *testing.T, db *sqldb.DB, archived []eventarchive.Line) {
	t.Helper()
	want := map[string]bool{}
	for _, l := range archived {
		want[l.EventID] = true
	}
	rows, err := db.QueryContext(context.Background(), `SELECT `+audit.EventIDColumn("audit_log")+`, archived FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	flagged := 0
	for rows.Next() {
		var id string
		var isArchived bool
		if err := rows.Scan(&id, &isArchived); err != nil {
			t.Fatal(err)
		}
		if isArchived != want[id] {
			t.Errorf("the audit row of event %s is flagged archived %v, want %v", id, isArchived, want[id])
		}
		if isArchived {
			flagged++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if flagged != len(want) {
		t.Errorf("%d audit rows are flagged archived, want the %d archived events'", flagged, len(want))
	}
}

// TestArchiveEvents_rerunAfterAnInterruptedDeleteLosesAndDuplicatesNothing: a run whose deletes fail (another
// transaction holds the events' rows, or SQLite's write lock) leaves a complete file; a rerun with the same file
// finishes its deletes and archives nothing more, so the store has lost exactly the file's events, and a later
// run with a new file holds none of them.
func TestArchiveEvents_rerunAfterAnInterruptedDeleteLosesAndDuplicatesNothing(t *testing.T) {
	h, jb, _ := deliveryFixture(t, retentionConfig(), 2)
	ctx := context.Background()
	for i := range 4 {
		jb.schedule(fmt.Sprintf("p-%d", i%2+1), fmt.Sprintf("entry-%d", i))
	}
	settledAt(h, 4)
	poll(t, 30*time.Second, 20*time.Millisecond, "the projections to handle every event", func() bool {
		return countRows(t, h.svc.DB, "audit_log") == len(h.storedEvents())
	})
	before := h.storedEvents()
	path := filepath.Join(t.TempDir(), "first.jsonl.gz")

	release := holdEvents(t, h.svc.DB, before)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	res, err := h.svc.ArchiveEvents(short, time.Now().Add(time.Minute), path)
	cancel()
	release()
	if err == nil || res.Deleted != 0 {
		t.Fatalf("an archive whose deletes were held up answered %+v, %v; want an error and nothing deleted", res, err)
	}
	// The file is complete. The delete that timed out may still finish on PostgreSQL's side once the lock goes
	// (the server ends a cancelled statement only when it notices): some or all of the file's events may be gone.
	first := archiveLines(t, path)
	if len(first) == 0 {
		t.Fatal("the interrupted archive left no file")
	}

	// More updates meanwhile: the rerun finishes the first file and takes none of them.
	jb.schedule("p-1", "meanwhile")
	h.outcomeOf("p-1", "meanwhile")
	res, err = h.svc.ArchiveEvents(ctx, time.Now().Add(time.Minute), path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Archived != len(first) {
		t.Errorf("rerun: %+v, want it to finish the first file's %d events", res, len(first))
	}
	if got := archiveLines(t, path); len(got) != len(first) {
		t.Errorf("the rerun changed the file: %d lines, want %d", len(got), len(first))
	}
	stored := h.storedEvents()
	wantArchived(t, before, stored, first)

	poll(t, 30*time.Second, 20*time.Millisecond, "the projections to handle every event", func() bool {
		return countRows(t, h.svc.DB, "audit_log") == len(before)+len(newSince(before, h.storedEvents()))
	})
	second := filepath.Join(t.TempDir(), "second.jsonl.gz")
	if _, err := h.svc.ArchiveEvents(ctx, time.Now().Add(time.Minute), second); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range first {
		seen[l.EventID] = true
	}
	for _, l := range archiveLines(t, second) {
		if seen[l.EventID] {
			t.Errorf("event %s is in both archives", l.EventID)
		}
	}
}

// holdEvents makes deleting the events fail until release: on PostgreSQL another transaction locks one of their
// rows; on SQLite another connection holds the write lock.
func holdEvents(t *testing.T, db *sqldb.DB, events []eventstore.Event) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lock := `BEGIN IMMEDIATE`
	if db.Dialect.Name == sqldb.Postgres.Name {
		lock = `BEGIN; SELECT 1 FROM events FOR UPDATE`
	}
	if _, err := conn.ExecContext(ctx, lock); err != nil {
		t.Fatal(err)
	}
	return func() {
		_, err := conn.ExecContext(ctx, `ROLLBACK`)
		if err := errorsJoin(err, conn.Close()); err != nil {
			t.Error(err)
		}
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// wantArchived checks that archived holds exactly the events that left the store, in store order, each line as
// the event was stored.
func wantArchived(t *testing.T, before, after []eventstore.Event, archived []eventarchive.Line) {
	t.Helper()
	kept := map[string]bool{}
	for _, e := range after {
		kept[e.ID] = true
	}
	var gone []eventstore.Event
	for _, e := range before {
		if !kept[e.ID] {
			gone = append(gone, e)
		}
	}
	if len(gone) != len(archived) || len(gone) == 0 {
		t.Fatalf("%d events left the store and the archive holds %d, want the same, and some", len(gone), len(archived))
	}
	for i, e := range gone {
		l := archived[i]
		if l.EventID != e.ID || l.Position != e.Position.Sequence || l.Type != e.Type || l.StreamID != e.StreamID ||
			!l.OccurredAt.Equal(e.OccurredAt) || l.TenantID != e.TenantID || l.CorrelationID != e.CorrelationID ||
			string(l.Data) != string(e.Payload) || l.PassID != strings.TrimPrefix(strings.TrimPrefix(e.StreamID, "pushes-"), "pass-") {
			t.Errorf("line %d is %+v, want the event %+v", i, l, e)
		}
	}
}

func archiveLines(t *testing.T, path string) []eventarchive.Line {
	t.Helper()
	var lines []eventarchive.Line
	if err := eventarchive.Read(path, func(l eventarchive.Line) error {
		lines = append(lines, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return lines
}

// readModels returns the rows of the passes and Apple registrations read models, as text.
func readModels(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT tenant_id, pass_id, pass_type, email, custom_id, data, version, stream_version, updated_at, last_updated_tx,
			last_updated_seq, last_modified, message FROM passes ORDER BY tenant_id, pass_id`,
		`SELECT tenant_id, pass_id, device_library_id, push_token, active, stream_version FROM apple_registrations
			ORDER BY tenant_id, pass_id, device_library_id`,
	} {
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range values {
				if b, ok := v.([]byte); ok {
					values[i] = string(b)
				}
			}
			out = append(out, fmt.Sprint(values...))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// newSince returns the events of now that before does not have.
func newSince(before, now []eventstore.Event) []eventstore.Event {
	had := map[string]bool{}
	for _, e := range before {
		had[e.ID] = true
	}
	var out []eventstore.Event
	for _, e := range now {
		if !had[e.ID] {
			out = append(out, e)
		}
	}
	return out
}
