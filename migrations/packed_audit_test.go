package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/storedpayload"
	"github.com/passpush/passpush/app/query"
)

// Migration 00025 codes the audit log's types and, on PostgreSQL, copies the log into a table whose columns leave
// no padding: every row reads as before, its position, id, time and payload kept, filters on a type find it, the
// projection still dedupes it, and new rows continue the positions. Down, the types have their names back.
func TestMigration25_codesTypesAndKeepsEveryRowBothWays(t *testing.T) {
	ctx := context.Background()
	db, provider := sqldbtest.MigratedTo(ctx, t, 23)
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	packed, err := storedpayload.Encode([]byte(`{"revision":2,"scheduledEventId":"x","journeyId":"j-1","channels":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		id, textID, typ, journey, pass, corr, stream string
		data                                         []byte
	}{
		{"01a23d56-4c4f-742c-9dea-2fe69bef6a7f", "", "PassRegistered", "", "p-1", "", "", []byte(`{"passType":"loyalty"}`)},
		{"01a23d56-4c4f-742c-9dea-2fe69bef6a80", "", "PassUpdateScheduled", "j-1", "p-1", "call-1", "", packed},
		{"01a23d56-4c4f-742c-9dea-2fe69bef6a81", "", "PushUpdateEmitted", "j-1", "p-1", "call-1", "pushes-", packed},
		// A type without a code keeps its name; an id that is not a uuid keeps its text.
		{"203d46f7-ec75-7e52-6fc0-289ae8ae8f9d", "ev-1", "SomethingElse", "", "", "", "tenant-acme", []byte(`{}`)},
	}
	for _, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (event_id, event_text_id, tenant_id, event_type, occurred_at, journey_id, pass_id, correlation_id, data, stream_id)
			VALUES ($1, $2, 'acme', $3, $4, $5, $6, $7, $8, $9)`, r.id, r.textID, r.typ, at, r.journey, r.pass, r.corr, r.data, r.stream); err != nil {
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
	before := read()
	if len(before) != len(rows) {
		t.Fatalf("the log reads %d rows before the migration, want %d", len(before), len(rows))
	}

	if _, err := provider.UpTo(ctx, 25); err != nil {
		t.Fatal(err)
	}
	after := read()
	if len(after) != len(before) {
		t.Fatalf("the log reads %d rows after the migration, want %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.Position != b.Position || a.Type != b.Type || !a.OccurredAt.Equal(b.OccurredAt) || a.StreamID != b.StreamID ||
			a.JourneyID != b.JourneyID || a.PassID != b.PassID || a.CorrelationID != b.CorrelationID || string(a.Data) != string(b.Data) {
			t.Errorf("row %d reads %+v after the migration, %+v before", i, a, b)
		}
	}
	var stored, stream string
	if err := db.QueryRowContext(ctx, `SELECT event_type FROM audit_log WHERE event_id = $1`, rows[1].id).Scan(&stored); err != nil || stored != auditrow.StoredType("PassUpdateScheduled") || len(stored) != 1 {
		t.Errorf("a known type is stored as %q (%v), want its one-byte code", stored, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT stream_id FROM audit_log WHERE event_id = $1`, rows[2].id).Scan(&stream); err != nil || stream != auditrow.StoredStream("pushes-p-1", "p-1") || len(stream) != 1 {
		t.Errorf("a pass's deliveries' stream is stored as %q (%v), want its one-byte mark", stream, err)
	}
	for _, typ := range []string{"PushUpdateEmitted", "SomethingElse"} {
		got, err := log.Events(ctx, query.Events{TenantID: "acme", Types: []string{typ}, Limit: 100})
		if err != nil || len(got) != 1 || got[0].Type != typ {
			t.Errorf("the feed of type %s reads %+v (%v), want its one row", typ, got, err)
		}
		listed, err := log.List(ctx, query.AuditLog{TenantID: "acme", Type: typ, Limit: 100})
		if err != nil || len(listed) != 1 || listed[0].Type != typ {
			t.Errorf("the list of type %s reads %+v (%v), want its one row", typ, listed, err)
		}
	}
	if db.Dialect.Name == sqldb.Postgres.Name {
		// The fixed-width columns come first, and the indexes keep no room.
		var order string
		if err := db.QueryRowContext(ctx, `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
			WHERE attrelid = 'audit_log'::regclass AND attnum > 0 AND NOT attisdropped`).Scan(&order); err != nil {
			t.Fatal(err)
		}
		if want := "position,occurred_at,event_id,data,tenant_id,event_type,journey_id,pass_id,correlation_id,stream_id,event_text_id"; order != want {
			t.Errorf("the audit log's columns are %s, want %s", order, want)
		}
		var packedIndexes int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_class WHERE relname IN ('audit_log_pkey', 'audit_log_tenant', 'audit_log_journey', 'audit_log_pass')
			AND 'fillfactor=100' = ANY(reloptions)`).Scan(&packedIndexes); err != nil || packedIndexes != 4 {
			t.Errorf("%d of the audit log's 4 indexes are filled to 100 %% (%v)", packedIndexes, err)
		}
	}
	// The projection dedupes what it recorded before, and numbers what it records now after it. It writes the
	// layout of the last migration (00026's flag), so the log goes up to it first.
	if _, err := provider.UpTo(ctx, 26); err != nil {
		t.Fatal(err)
	}
	// 00026 flags as archived the rows whose events are not in the store, which this test does not fill: the rows
	// stand for events still there, as they would be, and so can be handed over again.
	if _, err := db.ExecContext(ctx, `UPDATE audit_log SET archived = FALSE`); err != nil {
		t.Fatal(err)
	}
	var events []eventstore.Event
	for _, r := range rows[:3] {
		events = append(events, eventstore.Event{ID: r.id, TenantID: "acme", StreamID: "pass-p-1", Type: r.typ, OccurredAt: at, Payload: []byte(`{}`)})
	}
	events = append(events, eventstore.Event{ID: "01a23d56-4c4f-742c-9dea-2fe69bef6a82", TenantID: "acme", StreamID: "pass-p-1",
		Type: "PassDataChanged", OccurredAt: at, Payload: []byte(`{"data":{}}`)})
	if err := log.Handle(ctx, events); err != nil {
		t.Fatal(err)
	}
	now := read()
	if len(now) != len(rows)+1 {
		t.Fatalf("the log reads %d rows after recording 3 events again and a new one, want %d", len(now), len(rows)+1)
	}
	if last := now[len(now)-1]; last.Type != "PassDataChanged" || last.Position <= after[len(after)-1].Position {
		t.Errorf("the new row reads %+v, want a PassDataChanged after position %d", last, after[len(after)-1].Position)
	}

	if _, err := provider.DownTo(ctx, 23); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT stream_id FROM audit_log WHERE event_id = $1`, rows[2].id).Scan(&stream); err != nil || stream != "pushes-" {
		t.Errorf("after the down migration a pass's deliveries' stream is stored as %q (%v), want the prefix pushes-", stream, err)
	}
	names := map[string]string{}
	typeRows, err := db.QueryContext(ctx, `SELECT event_id, event_type FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	for typeRows.Next() {
		var id, typ string
		if err := typeRows.Scan(&id, &typ); err != nil {
			t.Fatal(err)
		}
		names[id] = typ
	}
	typeRows.Close()
	want := map[string]string{"01a23d56-4c4f-742c-9dea-2fe69bef6a82": "PassDataChanged"}
	for _, r := range rows {
		want[r.id] = r.typ
	}
	for id, typ := range want {
		if names[id] != typ {
			t.Errorf("after the down migration event %s has type %q, want %q", id, names[id], typ)
		}
	}
}
