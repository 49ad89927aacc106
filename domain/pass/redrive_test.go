package pass_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

// failedOnWebhook is a pass whose revision 2 failed on the webhook and the Google channel and was delivered to
// one of two Apple devices, the other refusing it.
func failedOnWebhook(t *testing.T) *pass.Pass {
	t.Helper()
	p := newPass(t)
	if _, err := p.Register(loyalty("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ScheduleUpdate(pass.UpdateFromJourney{JourneyID: "j1", ActivityID: "a1", DefinitionInstanceID: "d1"}); err != nil {
		t.Fatal(err)
	}
	_, err := p.RecordPush(pass.PushOutcome{Revision: 2, ScheduledEventID: "ev-2", JourneyID: "j1", Reason: "gave up", Channels: []pass.ChannelResult{
		{Channel: "webhook", Outcome: "failed", Attempts: 3, Failed: []string{"webhook"}, Detail: "502"},
		{Channel: "google", Outcome: "delivered", Delivered: true, Attempts: 1, Pushed: []string{"obj"}},
		{Channel: "apple", Outcome: "failed", Attempts: 1, Pushed: []string{"dev-1"}, Failed: []string{"dev-2"}, Detail: "400"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lastRedrive(t *testing.T, p *pass.Pass) pass.DeliveryRedriven {
	t.Helper()
	changes := p.Changes()
	r, ok := changes[len(changes)-1].(pass.DeliveryRedriven)
	if !ok {
		t.Fatalf("last change %T, want DeliveryRedriven", changes[len(changes)-1])
	}
	return r
}

// TestRedriveDelivery_queuesTheFailedChannelsOnce: the failed channels are redriven, keeping the targets that
// took the update; the channel that delivered keeps its outcome; a second redrive, before the redriven delivery
// has an outcome, records nothing.
func TestRedriveDelivery_queuesTheFailedChannelsOnce(t *testing.T) {
	p := failedOnWebhook(t)
	version := p.Version()
	redriven, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "receiver fixed"})
	if err != nil || !redriven {
		t.Fatalf("redrive = %v, %v; want true", redriven, err)
	}
	r := lastRedrive(t, p)
	want := pass.DeliveryRedriven{Revision: 2, ScheduledEventID: "ev-2", JourneyID: "j1", Reason: "receiver fixed",
		Channels: []string{"webhook", "apple"}, Progress: []pass.ChannelResult{
			{Channel: "webhook", Attempts: 3},
			{Channel: "google", Outcome: "delivered", Delivered: true, Attempts: 1, Pushed: []string{"obj"}},
			{Channel: "apple", Attempts: 1, Pushed: []string{"dev-1"}},
		}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", r, want)
	}
	if !pass.IsPushOutcome(r) || p.Version() != version {
		t.Errorf("a redrive is the delivery's record, in the push stream: it must not take a pass version")
	}
	if again, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "again"}); err != nil || again {
		t.Errorf("second redrive = %v, %v; want false: the update is queued already", again, err)
	}
	// The redriven delivery takes a new outcome, once.
	if recorded, err := p.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true}); err != nil || !recorded {
		t.Fatalf("outcome of the redriven delivery: %v, %v; want recorded", recorded, err)
	}
	if again, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "again"}); err != nil || again {
		t.Errorf("redrive of a delivered update = %v, %v; want false", again, err)
	}
}

func TestRedriveDelivery_oneChannel(t *testing.T) {
	p := failedOnWebhook(t)
	if redriven, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Channel: "google", Reason: "r"}); err != nil || redriven {
		t.Errorf("redrive of the channel that delivered = %v, %v; want false", redriven, err)
	}
	if redriven, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Channel: "webhook", Reason: "r"}); err != nil || !redriven {
		t.Fatalf("redrive of the webhook = %v, %v; want true", redriven, err)
	}
	r := lastRedrive(t, p)
	if !reflect.DeepEqual(r.Channels, []string{"webhook"}) || r.Progress[2].Outcome != "failed" {
		t.Errorf("redrove %v with progress %+v; want the webhook alone, Apple still failed", r.Channels, r.Progress)
	}
	// The webhook delivers, Apple has still failed: the update failed again, and Apple can be redriven.
	if _, err := p.RecordPush(pass.PushOutcome{Revision: 2, Reason: "rejected", Channels: r.Progress}); err != nil {
		t.Fatal(err)
	}
	if redriven, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Channel: "apple", Reason: "r"}); err != nil || !redriven {
		t.Errorf("redrive of Apple after the webhook's = %v, %v; want true", redriven, err)
	}
}

func TestRedriveDelivery_aLaterUpdateSupersedesTheRedrivenOne(t *testing.T) {
	p := failedOnWebhook(t)
	if _, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d2"}); err != nil {
		t.Fatal(err)
	}
	if redriven, err := p.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "r"}); err != nil || !redriven {
		t.Fatal(redriven, err)
	}
	if !lastRedrive(t, p).Superseded {
		t.Error("revision 2 redriven after revision 3 was scheduled is not marked superseded")
	}
}

func TestRedriveDelivery_refuses(t *testing.T) {
	p := failedOnWebhook(t)
	for _, r := range []pass.Redrive{{Revision: 2}, {Revision: 2, Reason: "  "}, {Revision: 2, Reason: "a\x00b"},
		{Revision: 2, Reason: strings.Repeat("x", pass.MaxRedriveReasonLength+1)}} {
		if _, err := p.RedriveDelivery(r); !errors.Is(err, pass.ErrInvalid) {
			t.Errorf("redrive with reason %q: %v, want ErrInvalid", r.Reason, err)
		}
	}
	for _, revision := range []int{1, 3} {
		if redriven, err := p.RedriveDelivery(pass.Redrive{Revision: revision, Reason: "r"}); err != nil || redriven {
			t.Errorf("redrive of revision %d, which has no failure: %v, %v", revision, redriven, err)
		}
	}
}

// TestRedriveDelivery_afterRestore: the failures survive the push snapshot, and a redrive survives it too.
func TestRedriveDelivery_afterRestore(t *testing.T) {
	p := failedOnWebhook(t)
	restored, err := restore(p)
	if err != nil {
		t.Fatal(err)
	}
	if redriven, err := restored.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "r"}); err != nil || !redriven {
		t.Fatalf("redrive after restore = %v, %v", redriven, err)
	}
	again, err := restore(restored)
	if err != nil {
		t.Fatal(err)
	}
	if redriven, err := again.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "r"}); err != nil || redriven {
		t.Errorf("redrive after restoring a redriven pass = %v, %v; want false", redriven, err)
	}
}

func restore(p *pass.Pass) (*pass.Pass, error) {
	state, pushes := p.Snapshot()
	return pass.Restore(p.TenantID(), p.ID(), state, pushes)
}
