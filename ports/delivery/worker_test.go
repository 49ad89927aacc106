package delivery_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/pass"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	deliverystage "github.com/passpush/passpush/ports/delivery"
)

// TestWorker_renewsTheLeaseOfAPushThatOutlastsIt: a push in flight longer than the lease stays hidden from other
// instances, because its holder renews the lease; with the lease alone another instance took it after one lease.
func TestWorker_renewsTheLeaseOfAPushThatOutlastsIt(t *testing.T) {
	// Renewals one after another may each take nearly half the lease (the lease of one runs from its start, and
	// the next starts when it ends); under -race on SQLite, beside this test's claims on the one writer, a 300 ms
	// lease was sometimes too short for that.
	checkRenewals(t, 900*time.Millisecond, 3, func(q *delivery.Queue) deliverystage.Queue { return q })
}

// TestWorker_aRenewalThatWaitsKeepsTheLease: a renewal that waits its turn for the database for longer than the
// time between renewals, but commits before the lease runs out, keeps the delivery its holder's. Renewals used to
// give up after a third of the lease, as SQLite's one writer or a PostgreSQL server short of CPU made them wait
// that long on a loaded machine: every renewal then failed and the lease ran out under a push still in flight.
func TestWorker_aRenewalThatWaitsKeepsTheLease(t *testing.T) {
	const lease = 3 * time.Second
	// More than the third of the lease between renewals, less than the half that renewals one after another may
	// each take: the lease one renews runs from its start, and the next starts when it ends.
	checkRenewals(t, lease, 1, func(q *delivery.Queue) deliverystage.Queue { return slowRenewal{Queue: q, wait: lease * 2 / 5} })
}

// checkRenewals holds one push in flight, with the lease given, until the lease was renewed renewals leases
// beyond the claim's; meanwhile another instance must never claim the delivery, and the worker must not warn.
// queue wraps the worker's queue.
func checkRenewals(t *testing.T, lease time.Duration, renewals int64, queue func(*delivery.Queue) deliverystage.Queue) {
	dbs := sqldbtest.Instances(t, 2)
	s := newStage(t, dbs[0])
	s.runProjections()
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	rcv := newReceiver(t, func(call) int { <-release; return http.StatusOK })
	t.Cleanup(open) // before the receiver's server closes, which waits for the held call
	s.tenantWithWebhook("t1", rcv.url)
	s.schedule("t1", 1, 1)

	s.run(s.worker(queue(newQueue(t, dbs[0])), deliverystage.Config{Lease: lease, AttemptTimeout: time.Minute}))
	t.Cleanup(open) // before the worker stops, which waits for the held push
	poll(t, 10*time.Second, "the push to start", func() bool { return len(rcv.received()) == 1 })
	eventID := rcv.received()[0].EventID

	// Several leases go by while the push is held; each look finds the delivery leased beyond the last one. The
	// looks are a tenth of the lease apart: a lease that ran out stays claimable until the next renewal, a third
	// of the lease later, and on SQLite each look's claim takes the one writer the renewals need too.
	other := newQueue(t, dbs[1])
	first := leaseUntil(t, dbs[1], eventID)
	deadline := time.Now().Add(time.Duration(renewals+1)*lease + 10*time.Second)
	for leaseUntil(t, dbs[1], eventID) < first+renewals*lease.Milliseconds() {
		if time.Now().After(deadline) {
			t.Fatalf("the lease was not renewed %d times within %s", renewals, time.Duration(renewals+1)*lease+10*time.Second)
		}
		taken, err := other.Claim(context.Background(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(taken) > 0 {
			t.Fatalf("another instance claimed %s while its push was in flight", taken[0].Update.EventID)
		}
		if w := s.warnings(); len(w) > 0 {
			t.Fatalf("the worker warned: %v", w)
		}
		time.Sleep(lease / 10)
	}
	open()
	poll(t, 10*time.Second, "the delivery to be recorded", func() bool { return len(s.outcomes("t1", 1)["PushUpdateEmitted"]) == 1 })
	if calls := rcv.received(); len(calls) != 1 {
		t.Errorf("the receiver got %d calls, want 1", len(calls))
	}
	if w := s.warnings(); len(w) > 0 {
		t.Errorf("the worker warned: %v", w)
	}
}

// slowRenewal is a queue whose renewals wait before they start, as one waits for a busy database's writer.
type slowRenewal struct {
	*delivery.Queue
	wait time.Duration
}

func (q slowRenewal) Renew(ctx context.Context, eventIDs []string, lease time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(q.wait):
	}
	return q.Queue.Renew(ctx, eventIDs, lease)
}

// TestWorker_aStopHandsEveryUnstartedDeliveryBack: a worker told to stop while its claim was being read pushes none
// of what it claimed and hands all of it back in one statement, so another instance takes it at once.
func TestWorker_aStopHandsEveryUnstartedDeliveryBack(t *testing.T) {
	dbs := sqldbtest.Instances(t, 2)
	s := newStage(t, dbs[0])
	s.runProjections()
	rcv := newReceiver(t, ok)
	s.tenantWithWebhook("t1", rcv.url)
	s.schedule("t1", 50, 1)

	ctx, cancel := context.WithCancel(context.Background())
	interrupted := make(chan struct{})
	var once sync.Once
	// The stop (SIGTERM) comes while the first claim is in flight.
	queue := stopDuringClaim{Queue: newQueue(t, dbs[0]), stop: func() { once.Do(func() { cancel(); close(interrupted) }) }}
	stop := s.runUntil(s.worker(queue, deliverystage.Config{Lease: time.Minute}), ctx, cancel)
	select {
	case <-interrupted:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker claimed nothing in 10s")
	}
	stop()

	if calls := rcv.received(); len(calls) != 0 {
		t.Errorf("a stopping worker pushed %d deliveries, want none", len(calls))
	}
	if n := leased(t, dbs[1], time.Now()); n != 0 {
		t.Errorf("%d deliveries are still leased to the stopped worker, want none; the worker warned: %v", n, s.warnings())
	}
	taken, err := newQueue(t, dbs[1]).Claim(context.Background(), 500, time.Minute)
	if err != nil || len(taken) != 50 {
		t.Errorf("another instance claimed %d deliveries (%v), want all 50 at once", len(taken), err)
	}
	for _, it := range taken {
		if it.Attempts != 0 {
			t.Errorf("%s was handed back with %d attempts, want 0", it.Update.EventID, it.Attempts)
		}
	}
}

// TestWorker_outcomesCarryTheCorrelationIdOfTheirUpdate: PushUpdateEmitted and PushUpdateFailed are stored under
// the correlation id of the call that scheduled the update, not an empty one.
func TestWorker_outcomesCarryTheCorrelationIdOfTheirUpdate(t *testing.T) {
	s := newStage(t, sqldbtest.New(t))
	s.runProjections()
	rcv := newReceiver(t, func(c call) int {
		if c.PassID == "p0001" {
			return http.StatusBadRequest // final: PushUpdateFailed
		}
		return http.StatusOK
	})
	s.tenantWithWebhook("t1", rcv.url)
	s.schedule("t1", 2, 1)
	s.run(s.worker(s.svc.Deliveries, deliverystage.Config{}))

	poll(t, 10*time.Second, "both outcomes", func() bool {
		o := s.outcomes("t1", 2)
		return len(o["PushUpdateEmitted"]) == 1 && len(o["PushUpdateFailed"]) == 1
	})
	o := s.outcomes("t1", 2)
	if got := o["PushUpdateEmitted"][0].CorrelationID; got != "call-0-0" {
		t.Errorf("PushUpdateEmitted correlation id = %q, want the update's call-0-0", got)
	}
	if got := o["PushUpdateFailed"][0].CorrelationID; got != "call-1-0" {
		t.Errorf("PushUpdateFailed correlation id = %q, want the update's call-1-0", got)
	}
}

// TestWorker_aChannelThatFailsForGoodDoesNotCancelAnothersRetry: the tenant's webhook answers 503 once while a
// second channel rejects the update. The webhook is retried until it takes the update, and only then is the
// outcome recorded: PushUpdateFailed, naming the rejection, with the webhook delivered on its second attempt.
// Before channels settled on their own, the rejection ended the delivery and the webhook's retry was dropped.
func TestWorker_aChannelThatFailsForGoodDoesNotCancelAnothersRetry(t *testing.T) {
	s := newStage(t, sqldbtest.New(t))
	s.runProjections()
	var calls atomic.Int32
	rcv := newReceiver(t, func(call) int {
		if calls.Add(1) == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	s.tenantWithWebhook("t1", rcv.url)
	s.schedule("t1", 1, 1)

	store, err := credentials.NewStore(s.db, s.box)
	if err != nil {
		t.Fatal(err)
	}
	webhooks, err := credentials.NewClients(store, credentials.KindWebhook,
		func(c credentials.Credential) (credentials.Webhook, error) { return credentials.DecodeWebhook(c.Data) }, credentials.ClientsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	webhookChannel, err := webhook.NewChannel(webhooktest.LocalConfig(), webhooks)
	if err != nil {
		t.Fatal(err)
	}
	fanOut, err := push.NewFanOut(webhookChannel, refusing{})
	if err != nil {
		t.Fatal(err)
	}
	s.run(s.workerPushingWith(s.svc.Deliveries, fanOut, deliverystage.Config{Backoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))

	poll(t, 10*time.Second, "the outcome", func() bool { return len(s.outcomes("t1", 1)["PushUpdateFailed"]) == 1 })
	if got := rcv.received(); len(got) != 2 {
		t.Errorf("the webhook got %d calls, want 2: the 503 and its retry", len(got))
	}
	var failed pass.PushUpdateFailed
	if err := json.Unmarshal(s.outcomes("t1", 1)["PushUpdateFailed"][0].Payload, &failed); err != nil {
		t.Fatal(err)
	}
	byChannel := map[string]pass.ChannelResult{}
	for _, r := range failed.Channels {
		byChannel[r.Channel] = r
	}
	if r := byChannel["webhook"]; r.Outcome != push.ChannelDelivered || r.Attempts != 2 {
		t.Errorf("webhook result %+v, want delivered on its second attempt", r)
	}
	if r := byChannel["refusing"]; r.Outcome != push.ChannelFailed || r.Attempts != 1 {
		t.Errorf("refusing channel's result %+v, want failed after one attempt", r)
	}
	if !strings.Contains(failed.Reason, "certificate refused") {
		t.Errorf("reason %q does not name the rejection", failed.Reason)
	}
}

// refusing is a channel with one target that refuses every update for good.
type refusing struct{}

func (refusing) Kind() string { return "refusing" }
func (refusing) Targets(context.Context, string, string) ([]push.Target, error) {
	return []push.Target{{ID: "only"}}, nil
}
func (refusing) Push(context.Context, push.Target, push.Update) push.Outcome {
	return push.Outcome{Kind: push.Rejected, Reason: "certificate refused"}
}

// TestWorker_threeInstancesDeliverEveryUpdateOnceInOrderWithoutDeadlock: three instances deliver one backlog,
// some first attempts failing, and record the outcomes together. Every update reaches the receiver once per
// attempt, in order per pass, and no instance reports an error (a deadlock, 40P01, is logged and retried).
func TestWorker_threeInstancesDeliverEveryUpdateOnceInOrderWithoutDeadlock(t *testing.T) {
	const passCount, updatesPerPass = 100, 5
	dbs := sqldbtest.Instances(t, 3)
	var mu sync.Mutex
	attempts := map[string]int{}
	rcv := newReceiver(t, func(c call) int {
		mu.Lock()
		defer mu.Unlock()
		attempts[c.EventID]++
		if attempts[c.EventID] == 1 && c.Version%3 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	stages := make([]*stage, len(dbs))
	for i, db := range dbs {
		stages[i] = newStage(t, db)
	}
	stages[0].runProjections()
	stages[0].tenantWithWebhook("t1", rcv.url)
	stages[0].schedule("t1", passCount, updatesPerPass)
	// A 30 s lease: every renewal may take a third of it. No instance stops here, so the lease's length changes no
	// outcome, but on SQLite, with the three sharing its one writer, a renewal under the default 10 s lease ran out
	// of its 3.3 s on a loaded machine and the worker rightly warned.
	config := deliverystage.Config{Concurrency: 64, Backoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Lease: 30 * time.Second}
	for _, s := range stages {
		s.run(s.worker(s.svc.Deliveries, config))
	}
	// A generous bound: it costs nothing when the test passes, and a loaded machine took more than a minute.
	poll(t, 3*time.Minute, "every update delivered", func() bool {
		return len(stages[0].outcomes("t1", passCount)["PushUpdateEmitted"]) == passCount*updatesPerPass
	})

	delivered := map[string][]int{}
	seen := map[string]int{}
	for _, c := range rcv.received() {
		seen[c.EventID]++
		if n := seen[c.EventID]; n == attempts[c.EventID] { // the call that succeeded
			delivered[c.PassID] = append(delivered[c.PassID], c.Version)
		}
	}
	for passID, versions := range delivered {
		if !slices.IsSorted(versions) || len(versions) != updatesPerPass {
			t.Errorf("pass %s: versions delivered in the order %v, want %d ascending", passID, versions, updatesPerPass)
		}
	}
	mu.Lock()
	for eventID, n := range attempts {
		if n > 2 {
			t.Errorf("%s was pushed %d times, want at most 2 (one refused, one delivered)", eventID, n)
		}
	}
	mu.Unlock()
	for i, s := range stages {
		if w := s.warnings(); len(w) > 0 {
			t.Errorf("instance %d warned %d times, first: %s", i, len(w), w[0])
		}
	}
}

// TestConfig_retriesForADayByDefault: a receiver that is down for less than a day loses nothing.
func TestConfig_retriesForADayByDefault(t *testing.T) {
	c := deliverystage.WithDefaults(deliverystage.Config{})
	if c.Lease != 10*time.Second || c.MaxBackoff != 10*time.Minute || c.Backoff != time.Second {
		t.Errorf("lease %s, backoff %s to %s; want 10s, and 1s to 10m", c.Lease, c.Backoff, c.MaxBackoff)
	}
	if span := schedule(c); span < 23*time.Hour || span > deliverystage.RetryWindow {
		t.Errorf("the default %d attempts span %s of backoff, want about %s", c.MaxAttempts, span, deliverystage.RetryWindow)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// A shorter longest backoff means more attempts in the same day.
	short := deliverystage.WithDefaults(deliverystage.Config{MaxBackoff: time.Minute})
	if span := schedule(short); span < 23*time.Hour || span > deliverystage.RetryWindow {
		t.Errorf("with a 1m max backoff, %d attempts span %s, want about a day", short.MaxAttempts, span)
	}
	// An attempt may take longer than the lease: the lease is renewed while it is in flight.
	long := deliverystage.WithDefaults(deliverystage.Config{Lease: time.Second, AttemptTimeout: time.Minute})
	if err := long.Validate(); err != nil {
		t.Errorf("an attempt timeout over the lease: %v", err)
	}
	for name, c := range map[string]deliverystage.Config{
		"a lease too short to renew":    {Lease: time.Millisecond},
		"a max backoff under the first": {Backoff: time.Minute, MaxBackoff: time.Second},
	} {
		if err := deliverystage.WithDefaults(c).Validate(); err == nil {
			t.Errorf("%s validates", name)
		}
	}
}

// schedule is how long the waits between c's attempts add up to.
func schedule(c deliverystage.Config) time.Duration {
	var total time.Duration
	for attempt := 1; attempt < c.MaxAttempts; attempt++ {
		total += min(c.Backoff<<min(attempt-1, 20), c.MaxBackoff)
	}
	return total
}

// stopDuringClaim calls stop when a claim (a plain or a fair one) has leased its rows, before the worker gets them.
type stopDuringClaim struct {
	*delivery.Queue
	stop func()
}

func (q stopDuringClaim) Claim(ctx context.Context, limit int, lease time.Duration) ([]push.Delivery, error) {
	claimed, err := q.Queue.Claim(ctx, limit, lease)
	if len(claimed) > 0 {
		q.stop()
	}
	return claimed, err
}

func (q stopDuringClaim) ClaimTenants(ctx context.Context, quotas []push.TenantQuota, lease time.Duration) ([]push.Delivery, error) {
	claimed, err := q.Queue.ClaimTenants(ctx, quotas, lease)
	if len(claimed) > 0 {
		q.stop()
	}
	return claimed, err
}

// heldUntil holds every delivery back for a channel's turn at a fixed time, and says, as an attempt would that
// other channels made slow, that the turn is an hour away from now.
type heldUntil struct{ at time.Time }

func (h heldUntil) Push(_ context.Context, d push.Delivery) push.Attempt {
	return push.Attempt{Pending: true, Throttled: true, RetryAfter: time.Hour, RetryAt: h.at,
		Progress: []pass.ChannelResult{{Channel: "google", Detail: "held back"}}}
}

// TestWorker_aDeliveryHeldBackComesBackAtTheTimeItsChannelGave: the retry of a throttled attempt is due at the
// channel's turn, not at a wait counted from the end of the attempt, which the other channels make later.
func TestWorker_aDeliveryHeldBackComesBackAtTheTimeItsChannelGave(t *testing.T) {
	s := newStage(t, sqldbtest.New(t))
	s.runProjections()
	s.tenantWithWebhook("t1", "http://127.0.0.1:1/unused")
	s.schedule("t1", 1, 1)
	at := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	stop := s.run(s.workerPushingWith(s.svc.Deliveries, heldUntil{at: at}, deliverystage.Config{}))
	defer stop()
	var due int64
	poll(t, 10*time.Second, "the retry to be scheduled", func() bool {
		err := s.db.QueryRowContext(context.Background(), `SELECT next_attempt_at FROM deliveries`).Scan(&due)
		return err == nil && due > time.Now().UnixMilli()
	})
	if due != at.UnixMilli() {
		t.Errorf("the retry is due %s after the channel's turn, want at it", time.UnixMilli(due).Sub(at))
	}
}

// TestWorker_aDeliveryItCannotReadHoldsUpNoOtherPass: a queued row the stage cannot decode is reported and left
// queued, while the deliveries claimed with it go out. Failing the whole claim left every row it had leased
// unworked, and since the unreadable row is among the oldest due, every later claim too: one row stopped the
// stage for every tenant.
func TestWorker_aDeliveryItCannotReadHoldsUpNoOtherPass(t *testing.T) {
	db := sqldbtest.New(t)
	s := newStage(t, db)
	s.runProjections()
	rcv := newReceiver(t, ok)
	s.tenantWithWebhook("t1", rcv.url)
	s.schedule("t1", 3, 1)
	if _, err := db.ExecContext(context.Background(), `UPDATE deliveries SET payload = '{' WHERE pass_id = 'p0001'`); err != nil {
		t.Fatal(err)
	}

	s.run(s.worker(s.svc.Deliveries, deliverystage.Config{}))
	poll(t, 30*time.Second, "the readable deliveries to go out", func() bool { return len(s.outcomes("t1", 3)["PushUpdateEmitted"]) == 2 })
	got := []string{}
	for _, c := range rcv.received() {
		got = append(got, c.PassID)
	}
	if slices.Sort(got); !slices.Equal(got, []string{"p0000", "p0002"}) {
		t.Errorf("the receiver got the updates of %v, want p0000 and p0002", got)
	}
	if n, err := s.svc.Deliveries.Pending(context.Background()); err != nil || n != 1 {
		t.Errorf("%d deliveries pending (%v), want the unreadable one, kept", n, err)
	}
	if warnings := strings.Join(s.warnings(), "\n"); !strings.Contains(warnings, "decode delivery") {
		t.Errorf("no warning says a delivery could not be decoded; warnings:\n%s", warnings)
	}
}
