package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

func TestRegisterPass_readModelShowsIt(t *testing.T) {
	db := sqldbtest.New(t)
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(logrus.StandardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := svc.RunBus(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "t1", PassID: "p1",
		Details: pass.Details{PassType: "loyalty", Email: "A@x.com", Data: map[string]string{"points": "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	p, err := svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: "t1", PassID: "p1", MinStreamVersion: res.StreamVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", p)
}

// TestScheduleJourneyPassUpdates_aRefusedUpdateDoesNotHoldBackTheOthers: the updates of many calls are handled
// together; one the pass refuses (it does not exist) is skipped, and the others, of any tenant, are scheduled,
// each under its own call's correlation id.
func TestScheduleJourneyPassUpdates_aRefusedUpdateDoesNotHoldBackTheOthers(t *testing.T) {
	db := sqldbtest.New(t)
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(logrus.StandardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tenantID := range []string{"t1", "t2"} {
		if _, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: tenantID, PassID: "p1",
			Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "1"}}}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(tenantID, passID, entry string) command.ScheduleJourneyPassUpdate {
		return command.ScheduleJourneyPassUpdate{TenantID: tenantID, PassID: passID, CorrelationID: "call-" + tenantID + "-" + passID + "-" + entry,
			Update: pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: entry, Fields: map[string]string{"points": entry}}}
	}
	err = svc.App.Commands.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: []command.ScheduleJourneyPassUpdate{
		update("t1", "ghost", "1"), update("t1", "p1", "2"), update("t2", "p1", "3"), update("t1", "p1", "4"), update("t1", "p1", "2"),
	}})
	if err != nil {
		t.Fatalf("a batch with a refused update failed: %v", err)
	}
	for _, want := range []struct {
		tenantID     string
		correlations []string
	}{
		{"t1", []string{"call-t1-p1-2", "call-t1-p1-4"}},
		{"t2", []string{"call-t2-p1-3"}},
	} {
		streams, err := svc.Events.Load(ctx, want.tenantID, "pass-p1", "pass-ghost")
		if err != nil {
			t.Fatal(err)
		}
		if len(streams["pass-ghost"]) != 0 {
			t.Errorf("%s: the refused update stored %d events", want.tenantID, len(streams["pass-ghost"]))
		}
		var got []string
		for _, e := range streams["pass-p1"] {
			if e.Type == "PassUpdateScheduled" {
				got = append(got, e.CorrelationID)
			}
		}
		if !slices.Equal(got, want.correlations) {
			t.Errorf("%s: updates scheduled under %v, want %v (the resent entry once)", want.tenantID, got, want.correlations)
		}
	}
}
