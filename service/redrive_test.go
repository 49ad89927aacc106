package service_test

// Issue 14 §2 "Redriving failed deliveries": an update whose delivery failed for good is listed, redriven once
// with its eventId to the channels that failed it, and recorded in the audit log with the operator's reason.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// scheduledID waits for the PassUpdateScheduled event that entry scheduled on passID (execute answers once the
// command is sent, before it is handled), and returns its id.
func (h *harness) scheduledID(passID, entry string) string {
	h.t.Helper()
	id := ""
	poll(h.t, 30*time.Second, 20*time.Millisecond, "the update of "+passID+" for "+entry, func() bool {
		for _, e := range h.storedOfType("PassUpdateScheduled") {
			if e.passID() == passID && e.payload["definitionInstanceId"] == entry {
				id = e.ID
				return true
			}
		}
		return false
	})
	return id
}

// outcomesOf waits until the update has n outcomes (PushUpdateEmitted or PushUpdateFailed), and returns them in
// store order.
func (h *harness) outcomesOf(eventID string, n int) []storedEvent {
	h.t.Helper()
	var found []storedEvent
	poll(h.t, 30*time.Second, 20*time.Millisecond, fmt.Sprintf("%d outcomes of %s", n, eventID), func() bool {
		found = nil
		for _, e := range h.storedEvents() {
			if e.Type != "PushUpdateEmitted" && e.Type != "PushUpdateFailed" {
				continue
			}
			if s := storedEventOf(h.t, e); s.payload["scheduledEventId"] == eventID {
				found = append(found, s)
			}
		}
		if len(found) > n {
			h.t.Fatalf("update %s has %d outcomes, want %d: %v", eventID, len(found), n, found)
		}
		return len(found) == n
	})
	return found
}

func (h *harness) listFailed(q query.FailedDeliveries) []query.FailedDelivery {
	h.t.Helper()
	var all []query.FailedDelivery
	if err := query.EachFailedDelivery(context.Background(), h.svc.App.Queries.FailedDeliveries, q, func(d query.FailedDelivery) error {
		all = append(all, d)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return all
}

func (h *harness) redrive(cmd command.RedriveFailedDeliveries) command.RedriveResult {
	h.t.Helper()
	res, err := h.svc.App.Commands.RedriveFailedDeliveries.Handle(context.Background(), cmd)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) pendingDeliveries() int {
	h.t.Helper()
	n, err := h.svc.Deliveries.Pending(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestRedrive_aFailedUpdateIsListedAndRedrivenOnceWithItsEventID(t *testing.T) {
	t.Parallel()
	const maxAttempts = 2
	h, jb, rcv := deliveryFixture(t, fastRetries(maxAttempts), 2)
	var broken atomic.Bool
	broken.Store(true)
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, _ int) (int, time.Duration) {
			if broken.Load() && msg["passId"] == "p-1" {
				return http.StatusBadGateway, 0
			}
			return 0, 0
		}
	})
	jb.journeyID = "journey-a"
	jb.schedule("p-1", "entry-1")
	jb.journeyID = "journey-b"
	jb.schedule("p-2", "entry-2")
	id, delivered := h.scheduledID("p-1", "entry-1"), h.scheduledID("p-2", "entry-2")
	if o := h.outcomesOf(id, 1)[0]; o.Type != "PushUpdateFailed" {
		t.Fatalf("p-1's update: %s, want PushUpdateFailed", o.Type)
	}
	if o := h.outcomesOf(delivered, 1)[0]; o.Type != "PushUpdateEmitted" {
		t.Fatalf("p-2's update: %s, want PushUpdateEmitted", o.Type)
	}

	failed := h.listFailed(query.FailedDeliveries{TenantID: "acme"})
	if len(failed) != 1 {
		t.Fatalf("listed %+v, want p-1's update alone", failed)
	}
	f := failed[0]
	if f.EventID != id || f.PassID != "p-1" || f.Revision != 2 || f.JourneyID != "journey-a" || f.FailedAt.IsZero() ||
		len(f.Channels) != 1 || f.Channels[0].Channel != "webhook" || !strings.Contains(f.Channels[0].Detail, "502") {
		t.Errorf("listed %+v, want p-1's revision 2 of journey-a, failed on the webhook with its 502", f)
	}
	if other := h.listFailed(query.FailedDeliveries{TenantID: "other"}); len(other) != 0 {
		t.Errorf("another tenant lists %+v", other)
	}

	// Dry run: the same update, and nothing changes.
	var wouldRedrive []string
	res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", DryRun: true,
		Redriven: func(d query.FailedDelivery) { wouldRedrive = append(wouldRedrive, d.EventID) }})
	if res.Redriven != 1 || len(wouldRedrive) != 1 || wouldRedrive[0] != id {
		t.Errorf("dry run: %+v %v, want %s", res, wouldRedrive, id)
	}
	if n := len(h.storedOfType("DeliveryRedriven")); n != 0 || h.pendingDeliveries() != 0 || len(h.listFailed(query.FailedDeliveries{TenantID: "acme"})) != 1 {
		t.Fatalf("the dry run changed something: %d DeliveryRedriven, %d queued", n, h.pendingDeliveries())
	}
	if _, err := h.svc.App.Commands.RedriveFailedDeliveries.Handle(context.Background(),
		command.RedriveFailedDeliveries{TenantID: "acme"}); !errors.Is(err, pass.ErrInvalid) {
		t.Errorf("a redrive without a reason: %v, want ErrInvalid", err)
	}

	broken.Store(false)
	if res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", Reason: "receiver fixed (INC-42)"}); res.Redriven != 1 {
		t.Fatalf("redrive: %+v, want 1 redriven", res)
	}
	if o := h.outcomesOf(id, 2)[1]; o.Type != "PushUpdateEmitted" {
		t.Fatalf("the redriven update: %s (%v), want PushUpdateEmitted", o.Type, o.payload)
	}
	rcv.mu.Lock()
	calls, ok, okDelivered := rcv.calls[id], rcv.ok[id], rcv.ok[delivered]
	rcv.mu.Unlock()
	// The receiver keys calls by the body's eventId: the redriven call carried the update's own.
	if ok != 1 || calls != maxAttempts+1 || okDelivered != 1 {
		t.Errorf("the receiver took %s %d times in %d calls (p-2's update %d times), want once in %d calls, p-2's once",
			id, ok, calls, okDelivered, maxAttempts+1)
	}

	// Run again: nothing is failed any more, nothing is queued twice.
	if res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", Reason: "again"}); res.Redriven != 0 || res.Skipped != 0 {
		t.Errorf("second redrive: %+v, want nothing", res)
	}
	if again := h.listFailed(query.FailedDeliveries{TenantID: "acme"}); len(again) != 0 {
		t.Errorf("listed after the redrive delivered: %+v", again)
	}
	if redrives := h.storedOfType("DeliveryRedriven"); len(redrives) != 1 || redrives[0].StreamID != "pushes-p-1" {
		t.Errorf("DeliveryRedriven events %v, want one in p-1's push stream", redrives)
	}

	var audited []auditEvent
	eventually(t, 10*time.Second, "DeliveryRedriven in the audit log", func() bool {
		audited = h.auditAll("acme", "type=DeliveryRedriven", 100)
		return len(audited) == 1
	})
	if a, data := audited[0], audited[0].data(t); a.PassID != "p-1" || a.JourneyID != "journey-a" ||
		data["reason"] != "receiver fixed (INC-42)" || data["scheduledEventId"] != id {
		t.Errorf("audited %+v %v, want p-1's redrive in journey-a with the reason", a, data)
	}
}

// TestRedrive_filters: --journey, --since and --channel keep their updates, for the listing and the redrive.
func TestRedrive_filters(t *testing.T) {
	t.Parallel()
	h, jb, rcv := deliveryFixture(t, fastRetries(1), 2)
	var broken atomic.Bool
	broken.Store(true)
	rcv.configure(func(r *receiver) {
		r.behave = func(map[string]any, int) (int, time.Duration) {
			if broken.Load() {
				return http.StatusBadRequest, 0
			}
			return 0, 0
		}
	})
	jb.journeyID = "journey-a"
	jb.schedule("p-1", "entry-1")
	jb.journeyID = "journey-b"
	jb.schedule("p-2", "entry-2")
	a, b := h.scheduledID("p-1", "entry-1"), h.scheduledID("p-2", "entry-2")
	h.outcomesOf(a, 1)
	h.outcomesOf(b, 1)

	hourAgo, inAnHour := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for _, c := range []struct {
		name string
		q    query.FailedDeliveries
		want []string
	}{
		{"all", query.FailedDeliveries{}, []string{a, b}},
		{"journey", query.FailedDeliveries{JourneyID: "journey-b"}, []string{b}},
		{"unknown journey", query.FailedDeliveries{JourneyID: "journey-c"}, nil},
		{"since an hour ago", query.FailedDeliveries{Since: hourAgo}, []string{a, b}},
		{"since in an hour", query.FailedDeliveries{Since: inAnHour}, nil},
		{"webhook", query.FailedDeliveries{Channel: "webhook"}, []string{a, b}},
		{"apple", query.FailedDeliveries{Channel: "apple"}, nil},
		// A page of one event reads one pass at a time: the cursor goes on to the next.
		{"pages of one", query.FailedDeliveries{Limit: 1}, []string{a, b}},
		// A page of two events that may have cut the second pass's short leaves it to the next page.
		{"pages of two", query.FailedDeliveries{Limit: 2}, []string{a, b}},
	} {
		c.q.TenantID = "acme"
		var got []string
		for _, d := range h.listFailed(c.q) {
			got = append(got, d.EventID)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
		}
	}

	broken.Store(false)
	for _, cmd := range []command.RedriveFailedDeliveries{
		{Channel: "apple"}, {Since: inAnHour}, {JourneyID: "journey-c"},
	} {
		cmd.TenantID, cmd.Reason = "acme", "filtered out"
		if res := h.redrive(cmd); res.Redriven != 0 {
			t.Errorf("redrive %+v: %+v, want nothing", cmd, res)
		}
	}
	if res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", JourneyID: "journey-b", Channel: "webhook",
		Since: hourAgo, Reason: "journey-b only"}); res.Redriven != 1 {
		t.Fatalf("redrive of journey-b: %+v, want 1", res)
	}
	if o := h.outcomesOf(b, 2)[1]; o.Type != "PushUpdateEmitted" {
		t.Errorf("journey-b's update after its redrive: %s", o.Type)
	}
	if left := h.listFailed(query.FailedDeliveries{TenantID: "acme"}); len(left) != 1 || left[0].EventID != a {
		t.Errorf("left failed: %+v, want journey-a's update alone", left)
	}
}

// TestRedrive_concurrentRedrivesQueueEachUpdateOnce: two redrives at once, while the delivery stage works, queue
// each failed update once between them, and each reaches the receiver once.
func TestRedrive_concurrentRedrivesQueueEachUpdateOnce(t *testing.T) {
	t.Parallel()
	const passes, perPass = 4, 2
	h, jb, rcv := deliveryFixture(t, fastRetries(1), passes)
	var broken atomic.Bool
	broken.Store(true)
	rcv.configure(func(r *receiver) {
		r.behave = func(map[string]any, int) (int, time.Duration) {
			if broken.Load() {
				return http.StatusBadRequest, 0
			}
			return 0, 0
		}
	})
	var ids []string
	for i := 1; i <= passes; i++ {
		for j := 1; j <= perPass; j++ {
			jb.schedule(fmt.Sprintf("p-%d", i), fmt.Sprintf("entry-%d-%d", i, j))
		}
	}
	for i := 1; i <= passes; i++ {
		for j := 1; j <= perPass; j++ {
			ids = append(ids, h.scheduledID(fmt.Sprintf("p-%d", i), fmt.Sprintf("entry-%d-%d", i, j)))
		}
	}
	for _, id := range ids {
		h.outcomesOf(id, 1)
	}
	broken.Store(false)

	var wg sync.WaitGroup
	results := make([]command.RedriveResult, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = h.svc.App.Commands.RedriveFailedDeliveries.Handle(context.Background(),
				command.RedriveFailedDeliveries{TenantID: "acme", Reason: fmt.Sprintf("redrive %d", i)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if total := results[0].Redriven + results[1].Redriven; total != len(ids) {
		t.Fatalf("the redrives queued %d updates between them (%+v), want %d", total, results, len(ids))
	}
	for _, id := range ids {
		if o := h.outcomesOf(id, 2)[1]; o.Type != "PushUpdateEmitted" {
			t.Errorf("%s after its redrive: %s", id, o.Type)
		}
	}
	if n := len(h.storedOfType("DeliveryRedriven")); n != len(ids) {
		t.Errorf("%d DeliveryRedriven events, want %d", n, len(ids))
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, id := range ids {
		if rcv.ok[id] != 1 {
			t.Errorf("the receiver took %s %d times, want once", id, rcv.ok[id])
		}
	}
}

// TestRedrive_aChannelThatDeliveredIsNotPushedAgain: p-1's update reached Google Wallet and failed on the
// webhook; its redrive pushes the webhook alone.
func TestRedrive_aChannelThatDeliveredIsNotPushedAgain(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	h := g.h
	var broken atomic.Bool
	broken.Store(true)
	g.rcv.configure(func(r *receiver) {
		r.behave = func(map[string]any, int) (int, time.Duration) {
			if broken.Load() {
				return http.StatusBadRequest, 0
			}
			return 0, 0
		}
	})
	g.send("p-1", "entry-1", "250", "")
	id := h.scheduledID("p-1", "entry-1")
	first := h.outcomesOf(id, 1)[0]
	if first.Type != "PushUpdateFailed" {
		t.Fatalf("first outcome %s, want PushUpdateFailed", first.Type)
	}
	o := outcome{typ: first.Type, channels: first.payload["channels"].([]any)}
	if r := o.channelResult(t, "google"); r["outcome"] != "delivered" {
		t.Fatalf("google %v, want delivered", r)
	}
	patches := len(g.requestsFor(googletest.CallPatch, objectID("p-1")))
	if patches == 0 {
		t.Fatal("google was never patched")
	}
	if failed := h.listFailed(query.FailedDeliveries{TenantID: "acme"}); len(failed) != 1 ||
		len(failed[0].Channels) != 1 || failed[0].Channels[0].Channel != "webhook" {
		t.Fatalf("listed %+v, want the update with the webhook alone failed", failed)
	}
	if res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", Channel: "google", Reason: "r"}); res.Redriven != 0 {
		t.Errorf("redrive of the channel that delivered: %+v, want nothing", res)
	}

	broken.Store(false)
	if res := h.redrive(command.RedriveFailedDeliveries{TenantID: "acme", Reason: "webhook fixed"}); res.Redriven != 1 {
		t.Fatalf("redrive: %+v", res)
	}
	second := h.outcomesOf(id, 2)[1]
	if second.Type != "PushUpdateEmitted" {
		t.Fatalf("after the redrive: %s %v", second.Type, second.payload)
	}
	o = outcome{typ: second.Type, channels: second.payload["channels"].([]any)}
	if r := o.channelResult(t, "webhook"); r["outcome"] != "delivered" {
		t.Errorf("webhook %v, want delivered", r)
	}
	if r := o.channelResult(t, "google"); r["outcome"] != "delivered" {
		t.Errorf("google %v, want its earlier delivery kept", r)
	}
	if n := len(g.requestsFor(googletest.CallPatch, objectID("p-1"))); n != patches {
		t.Errorf("google was patched %d times after the redrive, want %d: it had delivered", n, patches)
	}
	g.rcv.mu.Lock()
	defer g.rcv.mu.Unlock()
	if g.rcv.ok[id] != 1 {
		t.Errorf("the webhook took the update %d times, want once", g.rcv.ok[id])
	}
}
