package service_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/app/rebuild"

	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// TestRebuildDeliveries_queuesAgainEveryUpdateWithoutAnOutcome: a database whose projections once lost events
// (an older build's poison topic) has scheduled updates that were never queued. The rebuild queues exactly those
// that have neither PushUpdateEmitted nor PushUpdateFailed, keeps the ones still queued, and does nothing the
// second time. The projections run (without the delivery stage) and pass every event, so the updates are theirs
// no more: an update they have not passed yet they queue themselves, and a rebuild leaves it to them.
func TestRebuildDeliveries_queuesAgainEveryUpdateWithoutAnOutcome(t *testing.T) {
	db := sqldbtest.New(t)
	// The buses run, the delivery stage does not: the queue keeps what the projection queues.
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(logrus.StandardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.RunBus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	if _, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "t1", PassID: "p1",
		Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "1"}}}); err != nil {
		t.Fatal(err)
	}
	var updates []command.ScheduleJourneyPassUpdate
	for _, entry := range []string{"e1", "e2", "e3", "e4"} {
		updates = append(updates, command.ScheduleJourneyPassUpdate{TenantID: "t1", PassID: "p1",
			Update: pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: entry, Fields: map[string]string{"points": entry}}})
	}
	if err := svc.App.Commands.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: updates}); err != nil {
		t.Fatal(err)
	}
	var scheduled []string
	streams, err := svc.Events.Load(ctx, "t1", "pass-p1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range streams["pass-p1"] {
		if e.Type == (pass.UpdateScheduled{}).Name() {
			scheduled = append(scheduled, e.ID)
		}
	}
	if len(scheduled) != 4 {
		t.Fatalf("%d updates scheduled, want 4", len(scheduled))
	}
	// Once the projection has queued all four, they are lost, as if an older build had skipped them.
	for deadline := time.Now().Add(10 * time.Second); len(queuedEventIDs(t, svc)) < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queued %v, want the 4 updates", queuedEventIDs(t, svc))
		}
	}
	if _, err := svc.DB.ExecContext(ctx, `DELETE FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	// e1 was delivered and e2 failed for good: both have their outcome. e3 and e4 have none.
	err = svc.App.Commands.RecordPushOutcomes.Handle(ctx, command.RecordPushOutcomes{TenantID: "t1", Outcomes: []command.PassPushOutcome{
		{PassID: "p1", Outcome: pass.PushOutcome{Revision: 2, ScheduledEventID: scheduled[0], Delivered: true}},
		{PassID: "p1", Outcome: pass.PushOutcome{Revision: 3, ScheduledEventID: scheduled[1], Reason: "rejected: 400"}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	report, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: service.ProjectionDeliveries})
	if n := report.Requeued; err != nil || n != 2 {
		t.Fatalf("rebuild deliveries = %d, %v; want the 2 updates without an outcome", n, err)
	}
	if got := queuedEventIDs(t, svc); !slices.Equal(got, scheduled[2:]) {
		t.Errorf("queued %v, want %v", got, scheduled[2:])
	}
	if report, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: service.ProjectionDeliveries}); err != nil || report.Requeued != 0 {
		t.Errorf("second rebuild = %d, %v; want nothing queued twice", report.Requeued, err)
	}
	if _, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: "nonsense"}); !errors.Is(err, messaging.ErrUnknownProjection) {
		t.Errorf("rebuild of an unknown projection: %v, want ErrUnknownProjection", err)
	}
}

func queuedEventIDs(t *testing.T, svc *service.Service) []string {
	t.Helper()
	rows, err := svc.DB.QueryContext(context.Background(), `SELECT event_id FROM deliveries ORDER BY stream_version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
