package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/query"
)

// Migration 00026 flags the audit rows whose events have left the store, and on PostgreSQL narrows the event id's
// unique index to the rows not flagged: every row reads as before, the projection still dedupes the events left
// in the store, and the archive's flag takes a row out of the index. Down, the primary key covers every row again
// and the flag goes.
func TestMigration26_flagsArchivedRowsAndNarrowsTheKeyBothWays(t *testing.T) {
	ctx := context.Background()
	db, provider := sqldbtest.MigratedTo(ctx, t, 25)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const (
		stored   = "01a23d56-4c4f-742c-9dea-2fe69bef6a7f"
		archived = "01a23d56-4c4f-742c-9dea-2fe69bef6a80"
		later    = "01a23d56-4c4f-742c-9dea-2fe69bef6a81"
	)
	// One event is still in the store, the other was archived before the upgrade; the audit log has both.
	if _, err := db.ExecContext(ctx, `INSERT INTO events (event_id, tenant_id, stream_id, stream_version, event_type, occurred_at, payload)
		VALUES ($1, 'acme', 'pass-p-1', 2, 'PassDataChanged', $2, '{}')`, stored, at); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{archived, stored} {
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (event_id, event_text_id, tenant_id, event_type, occurred_at, pass_id, data, stream_id)
			VALUES ($1, '', 'acme', 'PassDataChanged', $2, 'p-1', $3, '')`, id, at, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	log, err := audit.NewLog(db)
	if err != nil {
		t.Fatal(err)
	}
	read := func() []query.Event {
		t.Helper()
		events, err := log.Events(ctx, query.Events{TenantID: "acme", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	flags := func() map[string]bool {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT CAST(event_id AS TEXT), archived FROM audit_log`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var id string
			var flag bool
			if err := rows.Scan(&id, &flag); err != nil {
				t.Fatal(err)
			}
			out[id] = flag
		}
		return out
	}
	before := read()

	if _, err := provider.UpTo(ctx, 26); err != nil {
		t.Fatal(err)
	}
	after := read()
	if len(after) != len(before) {
		t.Fatalf("the log reads %d rows after the migration, want %d", len(after), len(before))
	}
	for i := range before {
		if after[i].Position != before[i].Position || after[i].Type != before[i].Type || string(after[i].Data) != string(before[i].Data) {
			t.Errorf("row %d reads %+v after the migration, %+v before", i, after[i], before[i])
		}
	}
	if f := flags(); f[archived] != true || f[stored] != false {
		t.Errorf("after the migration the rows are flagged %v, want only the archived event's", f)
	}
	if db.Dialect.Name == sqldb.Postgres.Name {
		var unique bool
		var predicate string
		if err := db.QueryRowContext(ctx, `SELECT i.indisunique, COALESCE(pg_get_expr(i.indpred, i.indrelid), '') FROM pg_index i
			WHERE i.indexrelid = 'audit_log_event'::regclass`).Scan(&unique, &predicate); err != nil || !unique || predicate != "(NOT archived)" {
			t.Errorf("audit_log_event: unique %v, predicate %q (%v); want a unique index on the rows not archived", unique, predicate, err)
		}
		var keys int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'audit_log'::regclass AND contype = 'p'`).Scan(&keys); err != nil || keys != 0 {
			t.Errorf("the audit log has %d primary keys after the migration (%v), want none", keys, err)
		}
	}

	// The projection dedupes the event still in the store, and records a new one.
	handOver := func(ids ...string) {
		t.Helper()
		var events []eventstore.Event
		for _, id := range ids {
			events = append(events, eventstore.Event{ID: id, TenantID: "acme", StreamID: "pass-p-1", Type: "PassDataChanged", OccurredAt: at, Payload: []byte(`{}`)})
		}
		if err := log.Handle(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	handOver(stored, later)
	if got := read(); len(got) != len(before)+1 {
		t.Fatalf("the log reads %d rows after recording the stored event again and a new one, want %d", len(got), len(before)+1)
	}
	// The archive flags a row in the transaction that deletes its event, and only its tenant's.
	if n, err := log.MarkArchived(ctx, "other", []string{stored}); err != nil || n != 0 {
		t.Fatalf("another tenant's archive flagged %d rows (%v), want none", n, err)
	}
	if n, err := log.MarkArchived(ctx, "acme", []string{stored, stored}); err != nil || n != 1 {
		t.Fatalf("flagged %d rows (%v), want 1", n, err)
	}
	if n, err := log.MarkArchived(ctx, "acme", []string{stored}); err != nil || n != 0 {
		t.Fatalf("flagged %d rows again (%v), want none: it is flagged already", n, err)
	}
	if f := flags(); !f[archived] || !f[stored] || f[later] {
		t.Errorf("after the archive the rows are flagged %v, want the two archived events'", f)
	}
	handOver(later)
	if got := read(); len(got) != len(before)+1 {
		t.Fatalf("the log reads %d rows after recording the new event again, want %d", len(got), len(before)+1)
	}
	upRows := read()

	if _, err := provider.DownTo(ctx, 25); err != nil {
		t.Fatal(err)
	}
	down := read()
	if len(down) != len(upRows) {
		t.Fatalf("the log reads %d rows after the down migration, want %d", len(down), len(upRows))
	}
	for i := range upRows {
		if down[i].Position != upRows[i].Position || down[i].Type != upRows[i].Type || string(down[i].Data) != string(upRows[i].Data) {
			t.Errorf("row %d reads %+v after the down migration, %+v before", i, down[i], upRows[i])
		}
	}
	var columns int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE archived`).Scan(&columns); err == nil {
		t.Error("the audit log still has the archived flag after the down migration")
	}
	// The version before's projection, whose ON CONFLICT names every row's event id, dedupes again.
	if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (event_id, event_text_id, tenant_id, event_type, occurred_at, data)
		VALUES ($1, '', 'acme', 'PassDataChanged', $2, $3) ON CONFLICT (event_id) DO NOTHING`, archived, at, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != len(upRows) {
		t.Errorf("the log reads %d rows after the version before recorded an archived event again, want %d", len(got), len(upRows))
	}
}
