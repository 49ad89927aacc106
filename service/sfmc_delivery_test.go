package service_test

// Issue 3 §2 "Delivery": retries, failures that block nothing, concurrency across passes, passes without a
// channel, and the event id a receiver dedupes on.

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// deliveryFixture is acme, with its webhook at a new receiver, and passes p-1…p-n.
func deliveryFixture(t *testing.T, config service.Config, n int) (*harness, *journeyBuilder, *receiver) {
	t.Helper()
	h := startService(t, config)
	jb, rcv := deliveryFixtureOn(h, n)
	return h, jb, rcv
}

// deliveryFixtureOn is deliveryFixture on a passpush already started.
func deliveryFixtureOn(h *harness, n int) (*journeyBuilder, *receiver) {
	t := h.t
	t.Helper()
	h.addTenant("acme")
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)
	passes := make([]command.RegisterPass, n)
	for i := range passes {
		passes[i] = loyaltyPass(fmt.Sprintf("p-%d", i+1), fmt.Sprintf("owner%d@example.com", i+1), "")
	}
	h.importPasses("acme", passes)
	return newJourneyBuilder(h), rcv
}

// schedule executes one contact entry for one pass.
func (jb *journeyBuilder) schedule(passID, entry string) {
	jb.h.t.Helper()
	wantScheduled(jb.h.t, jb.execute("acme", jb.sign(jb.executeClaims(entry, in("passId", passID), in("entry", entry)))), 1)
}

// outcome is the PushUpdateEmitted or PushUpdateFailed recorded for one contact entry's update of a pass.
type outcome struct {
	typ       string
	eventID   string // the PassUpdateScheduled event's id
	reason    string
	channels  []any
	scheduled storedEvent
}

// outcomeOf waits for the outcome of the update that entry scheduled on passID.
func (h *harness) outcomeOf(passID, entry string) outcome {
	h.t.Helper()
	var o outcome
	poll(h.t, 30*time.Second, 20*time.Millisecond, "the outcome of "+passID+"/"+entry, func() bool {
		var scheduled *storedEvent
		outcomes := map[string]storedEvent{}
		for _, e := range h.storedEvents() {
			switch e.Type {
			case "PassUpdateScheduled", "PushUpdateEmitted", "PushUpdateFailed":
			default:
				continue
			}
			s := storedEventOf(h.t, e)
			if e.Type == "PassUpdateScheduled" {
				if s.passID() == passID && s.payload["definitionInstanceId"] == entry {
					scheduled = &s
				}
				continue
			}
			id, _ := s.payload["scheduledEventId"].(string)
			if _, dup := outcomes[id]; dup {
				h.t.Fatalf("update %s has two outcomes", id)
			}
			outcomes[id] = s
		}
		if scheduled == nil {
			return false
		}
		out, ok := outcomes[scheduled.ID]
		if !ok {
			return false
		}
		channels, _ := out.payload["channels"].([]any)
		reason, _ := out.payload["reason"].(string)
		o = outcome{typ: out.Type, eventID: scheduled.ID, reason: reason, channels: channels, scheduled: *scheduled}
		if out.payload["revision"] != scheduled.payload["revision"] {
			h.t.Fatalf("outcome %v is about another revision than %v", out.payload, scheduled.payload)
		}
		return true
	})
	return o
}

// webhookResult returns the webhook channel's result in an outcome.
func (o outcome) webhookResult(t *testing.T) map[string]any {
	t.Helper()
	if len(o.channels) != 1 {
		t.Fatalf("%s has channels %v, want the webhook alone", o.typ, o.channels)
	}
	r := o.channels[0].(map[string]any)
	if r["channel"] != "webhook" {
		t.Fatalf("channel result %v", r)
	}
	return r
}

func TestDelivery_retries5xxAnd429ThenDelivers(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, fastRetries(5), 3)
	failWith := map[string]int{"p-1": http.StatusServiceUnavailable, "p-2": http.StatusTooManyRequests, "p-3": http.StatusInternalServerError}
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, call int) (int, time.Duration) {
			if call <= 2 {
				return failWith[msg["passId"].(string)], 0
			}
			return 0, 0
		}
	})
	for id := range failWith {
		jb.schedule(id, "entry-"+id)
	}
	for id := range failWith {
		o := h.outcomeOf(id, "entry-"+id)
		if o.typ != "PushUpdateEmitted" {
			t.Fatalf("pass %s: %s (%s), want PushUpdateEmitted after retries", id, o.typ, o.reason)
		}
		if r := o.webhookResult(t); r["delivered"] != true || r["attempts"] != 3.0 {
			t.Errorf("pass %s: webhook result %v, want delivered on attempt 3", id, r)
		}
		rcv.mu.Lock()
		calls, ok := rcv.calls[o.eventID], rcv.ok[o.eventID]
		rcv.mu.Unlock()
		if calls != 3 || ok != 1 {
			t.Errorf("pass %s: the receiver got %d calls and took %d for event %s, want 3 and 1", id, calls, ok, o.eventID)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.calls) != 3 {
		t.Fatalf("the retries used %d event ids for 3 updates: %v", len(rcv.calls), rcv.calls)
	}
}

func TestDelivery_aRetriedUpdateStillArrivesBeforeThePassesNextOne(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, fastRetries(8), 2)
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, call int) (int, time.Duration) {
			if msg["definitionInstanceId"] == "entry-1" && call <= 3 {
				return http.StatusServiceUnavailable, 0
			}
			return 0, 0
		}
	})
	for _, entry := range []string{"entry-1", "entry-2", "entry-3"} {
		jb.schedule("p-1", entry)
	}
	jb.schedule("p-2", "entry-4")
	for _, entry := range []string{"entry-1", "entry-2", "entry-3"} {
		if o := h.outcomeOf("p-1", entry); o.typ != "PushUpdateEmitted" {
			t.Fatalf("%s: %s (%s)", entry, o.typ, o.reason)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if got := rcv.perPass["p-1"]; !slices.Equal(got, []int{2, 3, 4}) {
		t.Fatalf("p-1's updates arrived as versions %v, want [2 3 4]", got)
	}
	if got := rcv.perPass["p-2"]; !slices.Equal(got, []int{2}) {
		t.Fatalf("p-2's update arrived as %v", got)
	}
}

func TestDelivery_retriesATimeout(t *testing.T) {
	config := fastRetries(5)
	config.Webhook.Timeout = time.Second
	h, jb, rcv := deliveryFixture(t, config, 1)
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, call int) (int, time.Duration) {
			if call == 1 {
				return 0, 30 * time.Second // far past the client's timeout
			}
			return 0, 0
		}
	})
	jb.schedule("p-1", "entry-1")
	o := h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s %v (%s), want PushUpdateEmitted after the timeout", o.typ, o.channels, o.reason)
	}
	attempts := o.webhookResult(t)["attempts"]
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if calls := rcv.calls[o.eventID]; calls < 2 || float64(calls) != attempts || rcv.ok[o.eventID] != 1 {
		t.Fatalf("%d calls, %v attempts recorded, %d taken; want a retry after the timeout and one delivery", calls, attempts, rcv.ok[o.eventID])
	}
}

func TestDelivery_a4xxRecordsFailureAndBlocksNeitherThePassNorOthers(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, fastRetries(5), 2)
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, call int) (int, time.Duration) {
			if msg["definitionInstanceId"] == "entry-rejected" {
				return http.StatusUnprocessableEntity, 0
			}
			return 0, 0
		}
	})
	jb.schedule("p-1", "entry-rejected")
	jb.schedule("p-1", "entry-next")
	jb.schedule("p-2", "entry-other")

	rejected := h.outcomeOf("p-1", "entry-rejected")
	if rejected.typ != "PushUpdateFailed" || !strings.Contains(rejected.reason, "422") {
		t.Fatalf("rejected update: %s with reason %q, want PushUpdateFailed naming the 422", rejected.typ, rejected.reason)
	}
	if r := rejected.webhookResult(t); r["delivered"] != false || r["attempts"] != 1.0 {
		t.Errorf("a 4xx is final, yet the result is %v", r)
	}
	for _, c := range []struct{ pass, entry string }{{"p-1", "entry-next"}, {"p-2", "entry-other"}} {
		if o := h.outcomeOf(c.pass, c.entry); o.typ != "PushUpdateEmitted" {
			t.Errorf("%s/%s: %s (%s), want PushUpdateEmitted", c.pass, c.entry, o.typ, o.reason)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls[rejected.eventID] != 1 {
		t.Errorf("the rejected update was sent %d times, want once", rcv.calls[rejected.eventID])
	}
	if got := rcv.perPass["p-1"]; !slices.Equal(got, []int{3}) {
		t.Errorf("p-1 delivered versions %v, want [3]", got)
	}
	eventually(t, 10*time.Second, "the failure in the audit log", func() bool {
		for _, e := range h.auditAll("acme", "passId=p-1&type=PushUpdateFailed", 100) {
			if strings.Contains(e.data(t)["reason"].(string), "422") {
				return true
			}
		}
		return false
	})
}

func TestDelivery_givesUpAfterMaxAttemptsAndMovesOn(t *testing.T) {
	const maxAttempts = 3
	h, jb, rcv := deliveryFixture(t, fastRetries(maxAttempts), 1)
	rcv.configure(func(r *receiver) {
		r.behave = func(msg map[string]any, call int) (int, time.Duration) {
			if msg["definitionInstanceId"] == "entry-doomed" {
				return http.StatusBadGateway, 0
			}
			return 0, 0
		}
	})
	jb.schedule("p-1", "entry-doomed")
	jb.schedule("p-1", "entry-next")
	doomed := h.outcomeOf("p-1", "entry-doomed")
	if doomed.typ != "PushUpdateFailed" || doomed.reason == "" || !strings.Contains(doomed.reason, "502") {
		t.Fatalf("%s with reason %q, want PushUpdateFailed naming the 502", doomed.typ, doomed.reason)
	}
	if r := doomed.webhookResult(t); r["delivered"] != false || r["attempts"] != float64(maxAttempts) {
		t.Errorf("result %v, want %d attempts", r, maxAttempts)
	}
	if next := h.outcomeOf("p-1", "entry-next"); next.typ != "PushUpdateEmitted" {
		t.Fatalf("the next update: %s (%s), want PushUpdateEmitted", next.typ, next.reason)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls[doomed.eventID] != maxAttempts {
		t.Fatalf("the receiver got %d calls, want %d", rcv.calls[doomed.eventID], maxAttempts)
	}
}

// heldCallsConfig is a service whose delivery attempts outlast a receiver that holds its calls for minutes.
func heldCallsConfig() service.Config {
	var config service.Config
	config.Webhook.Timeout = 2 * time.Minute
	config.Delivery.AttemptTimeout = 2 * time.Minute
	return config
}

// holdCalls makes the receiver hold every call until open is called, at the latest when the test ends.
func (r *receiver) holdCalls(t *testing.T) (open func()) {
	hold := make(chan struct{})
	var release sync.Once
	open = func() { release.Do(func() { close(hold) }) }
	t.Cleanup(open)
	r.configure(func(r *receiver) { r.hold = hold })
	return open
}

// callsInFlight is how many calls the receiver is answering now.
func (r *receiver) callsInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

func TestDelivery_aSlowReceiverIsCalledConcurrentlyAcrossPasses(t *testing.T) {
	const passes, perCall = 60, 200 * time.Millisecond
	h, jb, rcv := deliveryFixture(t, heldCallsConfig(), passes)
	open := rcv.holdCalls(t)
	rcv.configure(func(r *receiver) { r.delay = perCall })

	// Journey Builder sends the contacts at once; the receiver holds every call until the test lets them go, so
	// the calls pile up only if the delivery stage makes them concurrently.
	var wg sync.WaitGroup
	errs := make(chan string, passes)
	for i := 1; i <= passes; i++ {
		token := jb.sign(jb.executeClaims(fmt.Sprintf("entry-%d", i), in("passId", fmt.Sprintf("p-%d", i))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := postSFMC(http.DefaultClient, h.url, "acme", "execute", "application/jwt", token)
			if err != nil || res.status != http.StatusOK {
				errs <- fmt.Sprintf("execute %d: %v %d %s", i, err, res.status, res.body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	inFlight := rcv.callsInFlight
	poll(t, 2*time.Minute, 20*time.Millisecond, "every pass's delivery to be in flight at once", func() bool { return inFlight() == passes })

	start := time.Now()
	open()
	eventually(t, 2*time.Minute, "every delivery", func() bool { return rcv.delivered() == passes })
	elapsed := time.Since(start)
	serial := passes * perCall
	rcv.mu.Lock()
	maxInFlight := rcv.maxInFlight
	rcv.mu.Unlock()
	t.Logf("%d deliveries of %s each took %s once released (serial: %s); at most %d in flight", passes, perCall, elapsed.Round(time.Millisecond), serial, maxInFlight)
	// Every call was in flight at once (the poll above): how long they then took is the machine's load, not a
	// behaviour, and is only logged.
	if maxInFlight < passes {
		t.Errorf("at most %d deliveries were in flight, want all %d", maxInFlight, passes)
	}
	h.settled(time.Minute)
}

func TestDelivery_aTenantWithoutWebhookStillEmitsWithZeroChannels(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	jb := newJourneyBuilder(h)
	jb.schedule("p-1", "entry-1")
	o := h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateEmitted" || o.channels == nil || len(o.channels) != 0 {
		t.Fatalf("%s with channels %v, want PushUpdateEmitted with an empty channel list", o.typ, o.channels)
	}
	eventually(t, 10*time.Second, "the read model", func() bool { return h.passView("acme", "p-1")["version"] == 2.0 })
	eventually(t, 10*time.Second, "the audit log", func() bool {
		events := h.auditAll("acme", "passId=p-1&type=PushUpdateEmitted", 100)
		return len(events) == 1 && string(events[0].Data) != "" && fmt.Sprint(events[0].data(t)["channels"]) == "[]"
	})
}

func TestDelivery_eventIdIsThePassUpdateScheduledEventIdOnEveryAttempt(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, fastRetries(5), 1)
	rcv.configure(func(r *receiver) { r.failStatus, r.failTimes = http.StatusServiceUnavailable, 1 })
	jb.schedule("p-1", "entry-1")
	o := h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s (%s)", o.typ, o.reason)
	}
	rcv.mu.Lock()
	calls := maps.Clone(rcv.calls)
	got := rcv.lastByPass["p-1"]["eventId"]
	rcv.mu.Unlock()
	if got != o.eventID || len(calls) != 1 || calls[o.eventID] != 2 {
		t.Fatalf("webhook saw eventIds %v (last %v), want the PassUpdateScheduled id %s on both attempts", calls, got, o.eventID)
	}
	eventually(t, 10*time.Second, "the outcome in the audit log", func() bool {
		events := h.auditAll("acme", "passId=p-1&type=PushUpdateEmitted", 100)
		return len(events) == 1 && events[0].data(t)["scheduledEventId"] == o.eventID
	})
}

// TestDelivery_aBurstOfCallsHoldsDeliveriesBackUntilItEnds: while Journey Builder brings updates faster than the
// burst rate, no more deliveries start once the burst is seen (the ones in flight stay what started before it),
// and once the calls stop the backlog goes out at full concurrency. The pace is measured on a clock the test moves
// one step per call: on the machine's clock a loaded machine serves the calls slower than the burst rate, and the
// burst ends in the middle of the test.
func TestDelivery_aBurstOfCallsHoldsDeliveriesBackUntilItEnds(t *testing.T) {
	const passes, step = 60, 100 * time.Millisecond // one call a step: 10 updates/s, twice the burst rate
	clock := newHandClock()
	config := heldCallsConfig()
	config.Delivery.BurstRate = 5
	config.Delivery.BurstConcurrency = 1
	config.Delivery.MaxBurst = 2 * time.Minute
	config.Delivery.BurstClock = clock.Now
	h, logs := startServiceWithLogHook(t, config)
	jb, rcv := deliveryFixtureOn(h, passes)
	open := rcv.holdCalls(t)
	inFlight := rcv.callsInFlight
	stage := func(name string) int { return int(scrapeMetrics(t, h.url).value(t, "passpush_deliveries_"+name, nil)) }
	logged := func(msg string) bool {
		return slices.ContainsFunc(logs.AllEntries(), func(e *logrus.Entry) bool { return e.Message == msg })
	}

	// Before the burst, p-1's delivery goes out and the receiver holds it: the burst's one slot is taken.
	jb.schedule("p-1", "entry-1")
	poll(t, time.Minute, 20*time.Millisecond, "p-1's delivery before the burst", func() bool { return inFlight() == 1 })
	held := 0
	for i := 2; i <= passes; i++ {
		jb.schedule(fmt.Sprintf("p-%d", i), fmt.Sprintf("entry-%d", i))
		clock.Advance(step)
		if i == 2 {
			poll(t, time.Minute, 10*time.Millisecond, "the burst to be seen", func() bool {
				return logged("burst of updates: holding deliveries back")
			})
			held = stage("in_flight") // p-1's, and p-2's if it was claimed before the burst was seen
		}
	}
	// Every update waits in the queue while the burst goes on, so each could have started.
	poll(t, time.Minute, 20*time.Millisecond, "every update in the delivery queue", func() bool { return stage("pending") == passes })
	atEnd := stage("in_flight")
	t.Logf("deliveries in flight: %d when the burst was seen, %d at its end", held, atEnd)
	if atEnd != held || held > 2 {
		t.Errorf("deliveries in flight grew from %d to %d during the burst, want no new ones", held, atEnd)
	}
	if n := inFlight(); n > held {
		t.Errorf("the receiver holds %d calls during the burst, want at most the %d started before it", n, held)
	}

	clock.Advance(time.Second) // the calls have stopped
	poll(t, time.Minute, 20*time.Millisecond, "the held-back deliveries to go out once the calls stop", func() bool { return inFlight() == passes })
	open()
	eventually(t, 2*time.Minute, "every delivery", func() bool { return rcv.delivered() == passes })
	h.settled(time.Minute)
}
