package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// failDelivery stores, through the application, an update of acme's pass p-1 whose webhook refused it for good,
// and returns the update's event id.
func (e *testEnv) failDelivery() string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	db := e.openDB(ctx)
	defer db.Close()
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(e.t)}, logrus.NewEntry(logrus.New()))
	if err != nil {
		e.t.Fatal(err)
	}
	app := svc.App.Commands
	if _, err := app.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "acme", PassID: "p-1",
		Details: pass.Details{PassType: "loyalty", Data: map[string]string{"points": "1"}}}); err != nil {
		e.t.Fatal(err)
	}
	err = app.ScheduleJourneyPassUpdates.Handle(ctx, &command.ScheduleJourneyPassUpdates{Updates: []command.ScheduleJourneyPassUpdate{{
		TenantID: "acme", PassID: "p-1",
		Update: pass.UpdateFromJourney{JourneyID: "journey-1", ActivityID: "a1", DefinitionInstanceID: "e1", Fields: map[string]string{"points": "2"}},
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	streams, err := svc.Events.Load(ctx, "acme", "pass-p-1")
	if err != nil {
		e.t.Fatal(err)
	}
	id := streams["pass-p-1"][len(streams["pass-p-1"])-1].ID
	err = app.RecordPushOutcomes.Handle(ctx, command.RecordPushOutcomes{TenantID: "acme", Outcomes: []command.PassPushOutcome{{PassID: "p-1",
		Outcome: pass.PushOutcome{Revision: 2, ScheduledEventID: id, JourneyID: "journey-1", Reason: "rejected: webhook: webhook answered 400",
			Channels: []pass.ChannelResult{{Channel: "webhook", Outcome: "failed", Attempts: 1, Failed: []string{"webhook"}, Detail: "webhook answered 400"}}},
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func TestDeliveries_listAndRedriveAFailedUpdate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("migrate")
	id := e.failDelivery()

	table := e.mustRun("deliveries", "list", "--tenant", "acme", "--failed").stdout
	for _, want := range []string{"EVENT ID", "CHANNEL", "REASON", id, "p-1", "journey-1", "webhook", "webhook answered 400"} {
		if !strings.Contains(table, want) {
			t.Errorf("list does not show %q:\n%s", want, table)
		}
	}
	line := e.mustRun("deliveries", "list", "--tenant", "acme", "--failed", "--json").stdout
	var listed map[string]any
	if err := json.Unmarshal([]byte(line), &listed); err != nil || listed["eventId"] != id || strings.Count(line, "\n") != 1 {
		t.Errorf("list --json printed %q (%v), want one line for %s", line, err, id)
	}
	if out := e.mustRun("deliveries", "list", "--tenant", "other", "--failed").stdout; !strings.Contains(out, "no failed deliveries") {
		t.Errorf("another tenant's list: %q", out)
	}
	for _, args := range [][]string{
		{"deliveries", "list", "--tenant", "acme"},
		{"deliveries", "redrive", "--tenant", "acme"},
		{"deliveries", "list", "--tenant", "acme", "--failed", "--since", "yesterday"},
		{"deliveries", "list", "--failed"},
	} {
		if r := e.run(args...); r.code == 0 || r.stderr == "" {
			t.Errorf("passpush %v: exit %d, stderr %q; want an error", args, r.code, r.stderr)
		}
	}

	dry := e.mustRun("deliveries", "redrive", "--tenant", "acme", "--dry-run").stdout
	if !strings.Contains(dry, id) || !strings.Contains(dry, "would redrive 1 updates") {
		t.Errorf("dry run printed:\n%s", dry)
	}
	if !strings.Contains(e.mustRun("deliveries", "list", "--tenant", "acme", "--failed").stdout, id) {
		t.Error("the dry run redrove the update")
	}
	if out := e.mustRun("deliveries", "redrive", "--tenant", "acme", "--since", "1h", "--reason", "receiver fixed").stdout; !strings.Contains(out, "redrove 1 updates") || !strings.Contains(out, id) {
		t.Errorf("redrive printed:\n%s", out)
	}
	if out := e.mustRun("deliveries", "redrive", "--tenant", "acme", "--reason", "again").stdout; !strings.Contains(out, "redrove 0 updates") {
		t.Errorf("second redrive printed:\n%s", out)
	}
	if out := e.mustRun("deliveries", "list", "--tenant", "acme", "--failed").stdout; !strings.Contains(out, "no failed deliveries") {
		t.Errorf("list after the redrive:\n%s", out)
	}
}
