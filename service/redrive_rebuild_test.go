package service_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/rebuild"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// TestRebuildDeliveries_queuesAgainARedriveWithoutAnOutcome: a redriven update is queued in the redrive's own
// transaction, from the redrive's progress, with its eventId. A queue that lost it gets it back, with the same
// progress, from the deliveries rebuild, once; a redrive whose update failed again stays out.
func TestRebuildDeliveries_queuesAgainARedriveWithoutAnOutcome(t *testing.T) {
	db := sqldbtest.New(t)
	// Built, not run: nothing delivers, so the queue holds exactly what the redrive and the rebuild put there.
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(logrus.StandardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "t1", PassID: "p1",
		Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "1"}}}); err != nil {
		t.Fatal(err)
	}
	var updates []command.ScheduleJourneyPassUpdate
	for _, entry := range []string{"e1", "e2"} {
		updates = append(updates, command.ScheduleJourneyPassUpdate{TenantID: "t1", PassID: "p1",
			Update: pass.UpdateFromJourney{JourneyID: "j1", ActivityID: "a1", DefinitionInstanceID: entry, Fields: map[string]string{"points": entry}}})
	}
	if err := svc.App.Commands.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: updates}); err != nil {
		t.Fatal(err)
	}
	streams, err := svc.Events.Load(ctx, "t1", "pass-p1")
	if err != nil {
		t.Fatal(err)
	}
	var scheduled []string
	for _, e := range streams["pass-p1"] {
		if e.Type == (pass.UpdateScheduled{}).Name() {
			scheduled = append(scheduled, e.ID)
		}
	}
	channels := []pass.ChannelResult{
		{Channel: "webhook", Outcome: "failed", Attempts: 3, Failed: []string{"webhook"}, Detail: "rejected: 400"},
		{Channel: "google", Outcome: "delivered", Delivered: true, Attempts: 1, Pushed: []string{"obj"}},
	}
	err = svc.App.Commands.RecordPushOutcomes.Handle(ctx, command.RecordPushOutcomes{TenantID: "t1", Outcomes: []command.PassPushOutcome{
		{PassID: "p1", Outcome: pass.PushOutcome{Revision: 2, ScheduledEventID: scheduled[0], JourneyID: "j1", Reason: "rejected", Channels: channels}},
		{PassID: "p1", Outcome: pass.PushOutcome{Revision: 3, ScheduledEventID: scheduled[1], JourneyID: "j1", Reason: "rejected", Channels: channels}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A transaction open since before the redrive hides the redrive's events from a read in transaction order
	// until it ends: the rebuild below must wait for it rather than stop short of them.
	release := holdTransactionOpen(t, db)
	res, err := svc.App.Commands.RedriveFailedDeliveries.Handle(ctx, command.RedriveFailedDeliveries{TenantID: "t1", Reason: "fixed"})
	if err != nil || res.Redriven != 2 {
		t.Fatalf("redrive = %+v, %v; want both updates", res, err)
	}
	want := []pass.ChannelResult{{Channel: "webhook", Attempts: 3}, channels[1]}
	checkQueued := func(when string) {
		t.Helper()
		if got := queuedEventIDs(t, svc); !slices.Equal(got, scheduled) {
			t.Fatalf("%s: queued %v, want %v", when, got, scheduled)
		}
		var results, payload string
		if err := db.QueryRowContext(ctx, `SELECT results, payload FROM deliveries WHERE event_id = $1`, scheduled[0]).Scan(&results, &payload); err != nil {
			t.Fatal(err)
		}
		var progress []pass.ChannelResult
		if err := json.Unmarshal([]byte(results), &progress); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(progress, want) {
			t.Errorf("%s: progress %+v, want %+v", when, progress, want)
		}
		// Revision 2 was followed by revision 3: a wallet gets it as superseded, not pushed over the newer state.
		var row struct {
			EventID    string `json:"eventId"`
			Superseded bool   `json:"superseded"`
		}
		if err := json.Unmarshal([]byte(payload), &row); err != nil || row.EventID != scheduled[0] || !row.Superseded {
			t.Errorf("%s: payload %s, want the update's eventId, superseded", when, payload)
		}
	}
	checkQueued("after the redrive")

	// The queue loses both; revision 3's redriven delivery fails again meanwhile.
	if _, err := db.ExecContext(ctx, `DELETE FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	err = svc.App.Commands.RecordPushOutcomes.Handle(ctx, command.RecordPushOutcomes{TenantID: "t1", Outcomes: []command.PassPushOutcome{
		{PassID: "p1", Outcome: pass.PushOutcome{Revision: 3, ScheduledEventID: scheduled[1], JourneyID: "j1", Reason: "rejected", Channels: channels}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	scheduled = scheduled[:1]
	time.AfterFunc(300*time.Millisecond, release)
	if r, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: service.ProjectionDeliveries}); err != nil || r.Requeued != 1 {
		t.Fatalf("rebuild deliveries = %d, %v; want revision 2's redrive alone", r.Requeued, err)
	}
	checkQueued("after the rebuild")
	if r, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: service.ProjectionDeliveries}); err != nil || r.Requeued != 0 {
		t.Errorf("second rebuild = %d, %v; want nothing queued twice", r.Requeued, err)
	}
}

// holdTransactionOpen opens a transaction that holds a transaction id on PostgreSQL, until the returned function
// ends it. On SQLite, whose single writer leaves nothing in flight to a reader, it does nothing.
func holdTransactionOpen(t *testing.T, db *sqldb.DB) (release func()) {
	t.Helper()
	if db.Dialect.Name != sqldb.Postgres.Name {
		return func() {}
	}
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}
