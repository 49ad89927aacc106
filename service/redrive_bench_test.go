package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// redriveBenchFailures is how many failed updates each benchmark run lists or redrives: one per pass, so each
// redrive is its own transaction, as in an outage of one receiver.
const redriveBenchFailures = 1000

// newRedriveBench is a service, built and not run (nothing delivers), on a fresh database.
func newRedriveBench(b *testing.B) *service.Service {
	b.Helper()
	svc, err := service.New(sqldbtest.New(b), service.Config{Secrets: secretboxtest.New(b)}, logrus.NewEntry(logrus.New()))
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// seedFailures registers n passes of the tenant, schedules one update of each, and records its webhook's failure.
func seedFailures(b *testing.B, svc *service.Service, tenantID string, n int) {
	b.Helper()
	ctx := context.Background()
	passes := make([]command.RegisterPass, n)
	updates := make([]command.ScheduleJourneyPassUpdate, n)
	for i := range passes {
		id := fmt.Sprintf("p-%d", i)
		passes[i] = command.RegisterPass{PassID: id, Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "1"}}}
		updates[i] = command.ScheduleJourneyPassUpdate{TenantID: tenantID, PassID: id, Update: pass.UpdateFromJourney{
			JourneyID: "j1", ActivityID: "a1", DefinitionInstanceID: "e-" + id, Fields: map[string]string{"points": "2"}}}
	}
	if _, err := svc.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: tenantID, Passes: passes}); err != nil {
		b.Fatal(err)
	}
	if err := svc.App.Commands.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: updates}); err != nil {
		b.Fatal(err)
	}
	var outcomes []command.PassPushOutcome
	err := svc.Events.Each(ctx, func(e *eventstore.Event) error {
		if e.TenantID == tenantID && e.Type == (pass.UpdateScheduled{}).Name() {
			outcomes = append(outcomes, command.PassPushOutcome{PassID: e.StreamID[len("pass-"):], Outcome: pass.PushOutcome{
				Revision: 2, ScheduledEventID: e.ID, JourneyID: "j1", Reason: "rejected", Channels: []pass.ChannelResult{
					{Channel: "webhook", Outcome: "failed", Attempts: 1, Failed: []string{"webhook"}, Detail: "webhook answered 400"}}}})
		}
		return nil
	})
	if err != nil || len(outcomes) != n {
		b.Fatalf("%d updates scheduled, %v; want %d", len(outcomes), err, n)
	}
	if err := svc.App.Commands.RecordPushOutcomes.Handle(ctx, command.RecordPushOutcomes{TenantID: tenantID, Outcomes: outcomes}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRedrive_list lists 1,000 failed updates of 1,000 passes.
//
//	go test -run '^$' -bench BenchmarkRedrive -benchtime 5x ./service/
func BenchmarkRedrive_list(b *testing.B) {
	svc := newRedriveBench(b)
	seedFailures(b, svc, "acme", redriveBenchFailures)
	ctx := context.Background()
	for b.Loop() {
		n := 0
		err := query.EachFailedDelivery(ctx, svc.App.Queries.FailedDeliveries, query.FailedDeliveries{TenantID: "acme"}, func(query.FailedDelivery) error {
			n++
			return nil
		})
		if err != nil || n != redriveBenchFailures {
			b.Fatalf("listed %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(redriveBenchFailures*b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkRedrive_redrive redrives 1,000 failed updates of 1,000 passes, each in its own transaction.
func BenchmarkRedrive_redrive(b *testing.B) {
	svc := newRedriveBench(b)
	ctx := context.Background()
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		tenantID := fmt.Sprintf("t%d", run)
		seedFailures(b, svc, tenantID, redriveBenchFailures)
		b.StartTimer()
		res, err := svc.App.Commands.RedriveFailedDeliveries.Handle(ctx, command.RedriveFailedDeliveries{TenantID: tenantID, Reason: "bench"})
		if err != nil || res.Redriven != redriveBenchFailures {
			b.Fatalf("redrove %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(redriveBenchFailures*b.N)/b.Elapsed().Seconds(), "updates/s")
}
