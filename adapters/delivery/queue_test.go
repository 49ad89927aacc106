package delivery_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/pass"

	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// TestClaim_aContextEndedMidScanStillReturnsEveryClaimedRow: the claim commits before its rows are read, so a
// claim that gave up reading them when its context ended left them leased and unworked until the lease ran out.
func TestClaim_aContextEndedMidScanStillReturnsEveryClaimedRow(t *testing.T) {
	db := sqldbtest.New(t)
	q, err := delivery.NewQueue(db)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, scheduled("t1", 300, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	delivery.SetScanned(q, cancel)

	items, err := q.Claim(ctx, 500, time.Minute)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if len(items) != 300 {
		t.Errorf("claim returned %d deliveries, want all 300 it leased", len(items))
	}
	if n := leased(t, db, time.Now()); n != len(items) {
		t.Errorf("%d deliveries are leased and %d were returned: %d are leased to nobody", n, len(items), n-len(items))
	}
	if items[0].CorrelationID != "call-0-0" {
		t.Errorf("claimed delivery's correlation id = %q, want the scheduled update's call-0-0", items[0].CorrelationID)
	}
}

// TestClaim_marksAnUpdateThatALaterOneOfItsPassFollowsAsSuperseded: a wallet needs only the latest state, so the
// claim says when a later update of the same pass waits behind the one it returns; its progress survives a retry.
func TestClaim_marksAnUpdateThatALaterOneOfItsPassFollowsAsSuperseded(t *testing.T) {
	q := newQueue(t, sqldbtest.New(t))
	enqueue(t, q, scheduled("t1", 2, 2)[:3]) // p0000 has two updates, p0001 one
	claimed, err := q.Claim(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	superseded := map[string]bool{}
	for _, d := range claimed {
		superseded[d.Update.EventID] = d.Superseded
	}
	if want := map[string]bool{"ev-0000-00": true, "ev-0001-00": false}; !maps.Equal(superseded, want) {
		t.Fatalf("claimed %v (event → superseded), want %v", superseded, want)
	}
	first := claimed[slices.IndexFunc(claimed, func(d push.Delivery) bool { return d.Update.EventID == "ev-0000-00" })]
	first.Attempts = 1
	first.Progress = []pass.ChannelResult{{Channel: "apple", Outcome: "superseded", Delivered: true, Attempts: 1},
		{Channel: "webhook", Attempts: 1, Detail: "webhook answered 503"}}
	if err := q.RetryAll(context.Background(), []push.Rescheduled{{Delivery: first, At: time.Now().Add(-time.Second), LastError: "webhook answered 503"}}); err != nil {
		t.Fatal(err)
	}
	again, err := q.Claim(context.Background(), 10, time.Minute)
	if err != nil || len(again) != 1 {
		t.Fatalf("claim after the retry: %d deliveries (%v), want the retried one", len(again), err)
	}
	if !slices.EqualFunc(again[0].Progress, first.Progress, func(a, b pass.ChannelResult) bool { return a.Channel == b.Channel && a.Outcome == b.Outcome }) {
		t.Errorf("progress after the retry: %+v, want %+v", again[0].Progress, first.Progress)
	}
	if err := q.Finish(context.Background(), []string{"ev-0000-00"}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	last, err := q.Claim(context.Background(), 10, time.Minute)
	if err != nil || len(last) != 1 || last[0].Update.EventID != "ev-0000-01" || last[0].Superseded {
		t.Fatalf("after the first finished, claimed %+v (%v), want ev-0000-01 not superseded", last, err)
	}
}

// TestRelease_handsClaimedDeliveriesBackAtOnce: what a stopping worker did not start is claimable again at once,
// not after its lease.
func TestRelease_handsClaimedDeliveriesBackAtOnce(t *testing.T) {
	dbs := sqldbtest.Instances(t, 2)
	stopping, other := newQueue(t, dbs[0]), newQueue(t, dbs[1])
	enqueue(t, stopping, scheduled("t1", 20, 1))
	ctx := context.Background()
	items, err := stopping.Claim(ctx, 500, time.Hour)
	if err != nil || len(items) != 20 {
		t.Fatalf("claim: %d deliveries, %v; want 20", len(items), err)
	}
	if err := stopping.Release(ctx, eventIDs(items)); err != nil {
		t.Fatalf("release: %v", err)
	}
	again, err := other.Claim(ctx, 500, time.Hour)
	if err != nil || len(again) != 20 {
		t.Fatalf("another instance claimed %d deliveries (%v), want the 20 released", len(again), err)
	}
}

// TestRenew_keepsDeliveriesFromOtherInstancesPastTheFirstLease: only the renewed deliveries stay hidden.
func TestRenew_keepsDeliveriesFromOtherInstancesPastTheFirstLease(t *testing.T) {
	dbs := sqldbtest.Instances(t, 2)
	holder, other := newQueue(t, dbs[0]), newQueue(t, dbs[1])
	now := time.Now()
	clock := func() time.Time { return now }
	delivery.SetClock(holder, clock)
	delivery.SetClock(other, clock)
	enqueue(t, holder, scheduled("t1", 4, 1))
	ctx := context.Background()
	const lease = 10 * time.Second
	items, err := holder.Claim(ctx, 500, lease)
	if err != nil || len(items) != 4 {
		t.Fatalf("claim: %d deliveries, %v; want 4", len(items), err)
	}
	now = now.Add(lease * 2 / 3)
	renewed := eventIDs(items)[:2]
	if err := holder.Renew(ctx, renewed, lease); err != nil {
		t.Fatalf("renew: %v", err)
	}
	now = now.Add(lease / 2) // past the claim's lease, within the renewal's
	taken, err := other.Claim(ctx, 500, lease)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := eventIDs(taken), eventIDs(items)[2:]; !sameSet(got, want) {
		t.Errorf("another instance claimed %v, want only the deliveries whose lease was not renewed, %v", got, want)
	}
}

// TestClaimAndFinish_threeInstancesNeverDeadlockNorClaimARowTwice: three instances claim, renew, retry and finish
// the same queue at once. Before claims skipped locked rows and every statement locked its rows in one order,
// PostgreSQL found deadlocks (40P01) between claims, and between a claim and a finish.
func TestClaimAndFinish_threeInstancesNeverDeadlockNorClaimARowTwice(t *testing.T) {
	const passCount, updatesPerPass, lease = 150, 6, time.Minute
	dbs := sqldbtest.Instances(t, 3)
	enqueue(t, newQueue(t, dbs[0]), scheduled("t1", passCount, updatesPerPass))

	var mu sync.Mutex
	holder := map[string]int{}             // event id → the instance that holds it now
	finishedVersions := map[string][]int{} // pass → stream versions in the order they were finished
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i, db := range dbs {
		q := newQueue(t, db)
		wg.Add(1)
		go func() {
			defer wg.Done()
			attempt := 0
			for ctx.Err() == nil {
				items, err := q.Claim(ctx, 40, lease)
				if err != nil {
					problem("instance %d: claim: %v", i, err)
					return
				}
				if len(items) == 0 {
					pending, err := q.Pending(ctx)
					if err != nil {
						problem("instance %d: pending: %v", i, err)
						return
					}
					if pending == 0 {
						return
					}
					time.Sleep(time.Millisecond) // the rest is held by the others: pace the polling
					continue
				}
				mu.Lock()
				for _, it := range items {
					if other, held := holder[it.Update.EventID]; held {
						problems = append(problems, fmt.Sprintf("%s claimed by instance %d while instance %d holds it", it.Update.EventID, i, other))
					}
					holder[it.Update.EventID] = i
				}
				mu.Unlock()
				if err := q.Renew(ctx, eventIDs(items), lease); err != nil {
					problem("instance %d: renew: %v", i, err)
					return
				}
				// Every third claim has its first half retried at once, the rest finished in one statement.
				attempt++
				finish := items
				if attempt%3 == 0 {
					retry := items[:len(items)/2]
					finish = items[len(items)/2:]
					for _, it := range retry {
						mu.Lock()
						delete(holder, it.Update.EventID)
						mu.Unlock()
						it.Attempts++
						if err := q.RetryAll(ctx, []push.Rescheduled{{Delivery: it, At: time.Now(), LastError: "test"}}); err != nil {
							problem("instance %d: retry: %v", i, err)
							return
						}
					}
				}
				mu.Lock()
				for _, it := range finish {
					delete(holder, it.Update.EventID)
					finishedVersions[it.Update.PassID] = append(finishedVersions[it.Update.PassID], it.Update.Revision)
				}
				mu.Unlock()
				if err := q.Finish(ctx, eventIDs(finish), func(context.Context) error { return nil }); err != nil {
					problem("instance %d: finish: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the instances did not empty the queue in time")
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(finishedVersions) != passCount {
		t.Errorf("%d passes got their deliveries finished, want %d", len(finishedVersions), passCount)
	}
	for passID, versions := range finishedVersions {
		if !slices.IsSorted(versions) || len(versions) != updatesPerPass {
			t.Errorf("pass %s: versions finished in the order %v, want %d in ascending order", passID, versions, updatesPerPass)
		}
	}
}

func newQueue(t *testing.T, db *sqldb.DB) *delivery.Queue {
	t.Helper()
	q, err := delivery.NewQueue(db)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func eventIDs(items []push.Delivery) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.Update.EventID
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRetryAll_keepsEachDeliverysOwnProgressAndTime: a flush reschedules hundreds of deliveries held back for
// their Google turns in a few statements; each keeps its own attempts, progress, error and time, also past one
// statement's rows.
func TestRetryAll_keepsEachDeliverysOwnProgressAndTime(t *testing.T) {
	db := sqldbtest.New(t)
	q := newQueue(t, db)
	const n = 1100 // more than one statement's rows
	enqueue(t, q, scheduled("t1", n, 1))
	ctx := context.Background()
	claimed, err := q.Claim(ctx, n, time.Hour)
	if err != nil || len(claimed) != n {
		t.Fatalf("claim: %d deliveries, %v; want %d", len(claimed), err, n)
	}
	now := time.Now()
	var retries []push.Rescheduled
	due := map[string]push.Delivery{}
	for i, d := range claimed {
		d.Attempts = i % 7
		d.Progress = []pass.ChannelResult{{Channel: "webhook", Outcome: "delivered", Delivered: true, Attempts: 1},
			{Channel: "google", Detail: fmt.Sprintf("turn %d", i)}}
		at := now.Add(time.Hour) // held back
		if i%2 == 0 {
			at = now.Add(-time.Second)
			due[d.Update.EventID] = d
		}
		retries = append(retries, push.Rescheduled{Delivery: d, At: at, LastError: "held back " + d.Update.EventID})
	}
	if err := q.RetryAll(ctx, retries); err != nil {
		t.Fatalf("retry all: %v", err)
	}
	again, err := q.Claim(ctx, n, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(due) {
		t.Fatalf("claimed %d deliveries after the reschedule, want the %d due", len(again), len(due))
	}
	for _, d := range again {
		want, ok := due[d.Update.EventID]
		switch {
		case !ok:
			t.Fatalf("claimed %s, which was rescheduled for later", d.Update.EventID)
		case d.Attempts != want.Attempts || len(d.Progress) != 2 || d.Progress[1].Detail != want.Progress[1].Detail:
			t.Fatalf("%s came back with attempts %d and progress %+v, want %d and %+v", d.Update.EventID, d.Attempts, d.Progress, want.Attempts, want.Progress)
		}
	}
	var wrong int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE last_error <> 'held back ' || event_id`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("%d deliveries hold another delivery's error", wrong)
	}
}
