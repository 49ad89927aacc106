package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/query"
)

// The audit log stores payloads deflated, and the feed, the export and the audit API give back the very bytes
// the event store holds: the same JSON, key order and spacing included.
func TestLog_givesBackEachPayloadAsStoredAndKeepsItSmaller(t *testing.T) {
	db := sqldbtest.New(t)
	log, err := audit.NewLog(db)
	if err != nil {
		t.Fatal(err)
	}
	payloads := []string{
		`{"journeyId":"journey-1","activityId":"activity-1","activityInstanceId":"","definitionInstanceId":"entry-00000007","contactKey":"contact-000007","fields":{"offer":"10% off this week","points":"7"},"message":"","revision":2,"passType":"loyalty","data":{"offer":"10% off this week","points":"7","tier":"silver"}}`,
		`{"revision":3,"scheduledEventId":"01a23cb7-83ef-783d-8972-0a6fa9b0268d","journeyId":"journey-1","channels":[{"channel":"webhook","delivered":true,"outcome":"delivered","attempts":1,"pushed":["default"]}]}`,
		`{"name":"Café \u00e9t\u00e9 ☕", "spaced" : [1, 2,	3]}`,
		`{}`,
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	events := make([]eventstore.Event, len(payloads))
	for i, p := range payloads {
		events[i] = eventstore.Event{ID: "ev-" + string(rune('a'+i)), TenantID: "acme", StreamID: "tenant-acme", Version: i + 1,
			Type: "TenantUpdated", OccurredAt: at, Payload: []byte(p)}
	}
	ctx := context.Background()
	if err := log.Handle(ctx, events); err != nil {
		t.Fatal(err)
	}

	got, err := log.Events(ctx, query.Events{TenantID: "acme", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := log.List(ctx, query.AuditLog{TenantID: "acme", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(payloads) || len(listed) != len(payloads) {
		t.Fatalf("read %d events from the feed and %d from the audit API, want %d", len(got), len(listed), len(payloads))
	}
	for i, p := range payloads {
		if string(got[i].Data) != p || string(listed[i].Data) != p {
			t.Errorf("event %d: feed gives %s, audit API %s, want %s", i, got[i].Data, listed[i].Data, p)
		}
	}

	// The typical payloads, an update and its outcome, take under half their JSON's bytes.
	for i, p := range payloads[:2] {
		var stored []byte
		if err := db.QueryRowContext(ctx, `SELECT data FROM audit_log WHERE `+audit.EventIDColumn("audit_log")+` = $1`, events[i].ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if len(stored)*2 > len(p) {
			t.Errorf("payload %d is stored in %d bytes, its JSON has %d: want under half", i, len(stored), len(p))
		}
		if bytes.Contains(stored, []byte(`"journeyId"`)) {
			t.Errorf("payload %d is stored as its JSON: %q", i, stored)
		}
	}
}

// Rows written before the payloads were deflated hold the JSON itself, and read as it.
func TestLog_readsAPayloadStoredAsJSON(t *testing.T) {
	db := sqldbtest.New(t)
	log, err := audit.NewLog(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const payload = `{"revision":1, "journeyId":"j-1"}`
	if _, err := db.ExecContext(ctx, `
		INSERT INTO audit_log (event_id, tenant_id, event_type, occurred_at, journey_id, pass_id, correlation_id, data, stream_id)
		VALUES ('01a23d56-4c4f-742c-9dea-2fe69bef6a7f', 'acme', 'PushUpdateEmitted', $1, 'j-1', 'p-1', '', $2, 'pushes-p-1')`,
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), []byte(payload)); err != nil {
		t.Fatal(err)
	}
	got, err := log.Events(ctx, query.Events{TenantID: "acme", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Data) != payload {
		t.Fatalf("read %+v, want one event with %s", got, payload)
	}
}
