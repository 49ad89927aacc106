package push_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/pass"
)

// scripted is a channel whose targets answer from a script, one outcome per push, and which records its pushes.
// It stands for a receiver the fan-out cannot tell apart from a real one: the fan-out sees only the port.
type scripted struct {
	kind       string
	targets    []string
	targetsErr error
	latestOnly bool
	script     map[string][]push.Outcome // target → outcomes of its successive pushes

	mu     sync.Mutex
	pushes []string
}

func (c *scripted) Kind() string     { return c.kind }
func (c *scripted) LatestOnly() bool { return c.latestOnly }

func (c *scripted) Targets(context.Context, string, string) ([]push.Target, error) {
	if c.targetsErr != nil {
		return nil, c.targetsErr
	}
	var ts []push.Target
	for _, id := range c.targets {
		ts = append(ts, push.Target{ID: id})
	}
	return ts, nil
}

func (c *scripted) Push(_ context.Context, t push.Target, _ push.Update) push.Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushes = append(c.pushes, t.ID)
	outcomes := c.script[t.ID]
	if len(outcomes) == 0 {
		return push.Outcome{Kind: push.Delivered}
	}
	c.script[t.ID] = outcomes[1:]
	return outcomes[0]
}

func (c *scripted) pushed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.pushes)
	slices.Sort(out)
	c.pushes = nil
	return out
}

func fanOut(t *testing.T, channels ...push.Channel) push.FanOut {
	t.Helper()
	f, err := push.NewFanOut(channels...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func result(t *testing.T, a push.Attempt, channel string) pass.ChannelResult {
	t.Helper()
	for _, r := range a.Progress {
		if r.Channel == channel {
			return r
		}
	}
	t.Fatalf("no result for channel %s in %+v", channel, a.Progress)
	return pass.ChannelResult{}
}

var (
	retry  = push.Outcome{Kind: push.Retry, Reason: "503"}
	reject = push.Outcome{Kind: push.Rejected, Reason: "403 certificate refused"}
	gone   = push.Outcome{Kind: push.Gone, Reason: "410"}
)

// One channel's final failure does not cancel another channel's retry: the attempt stays pending, and the next
// attempt pushes only the channel that waits.
func TestFanOut_aFinalFailureDoesNotCancelAnotherChannelsRetry(t *testing.T) {
	webhook := &scripted{kind: "webhook", targets: []string{"default"}, script: map[string][]push.Outcome{"default": {retry}}}
	wallet := &scripted{kind: "apple", targets: []string{"d1"}, script: map[string][]push.Outcome{"d1": {reject}}}
	f := fanOut(t, webhook, wallet)
	d := push.Delivery{Update: push.Update{EventID: "e1", TenantID: "t", PassID: "p"}}

	first := f.Push(context.Background(), d)
	if !first.Pending {
		t.Fatalf("after a retryable webhook error and a rejected wallet, the attempt is settled (%+v); want pending", first.Progress)
	}
	if r := result(t, first, "apple"); r.Outcome != push.ChannelFailed || r.Delivered || !slices.Equal(r.Failed, []string{"d1"}) {
		t.Errorf("apple after its rejection: %+v, want failed with d1", r)
	}
	if r := result(t, first, "webhook"); r.Outcome != "" || r.Attempts != 1 {
		t.Errorf("webhook after its 503: %+v, want pending after 1 attempt", r)
	}
	webhook.pushed()
	wallet.pushed()

	d.Progress = first.Progress
	second := f.Push(context.Background(), d)
	if second.Pending || !second.Failed() {
		t.Fatalf("second attempt: pending %v, failed %v; want settled with apple failed", second.Pending, second.Failed())
	}
	if r := result(t, second, "webhook"); r.Outcome != push.ChannelDelivered || r.Attempts != 2 || !r.Delivered {
		t.Errorf("webhook after its retry: %+v, want delivered after 2 attempts", r)
	}
	if got := wallet.pushed(); len(got) != 0 {
		t.Errorf("the failed channel was pushed again: %v", got)
	}
	if got := webhook.pushed(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("the webhook's retry pushed %v, want [default]", got)
	}
}

// A retry pushes only the targets still missing; a target that is gone is forgotten and counts as delivered.
func TestFanOut_aRetryPushesOnlyTheMissingTargets(t *testing.T) {
	wallet := &scripted{kind: "apple", targets: []string{"d1", "d2", "d3"},
		script: map[string][]push.Outcome{"d2": {retry}, "d3": {gone}}}
	f := fanOut(t, wallet)
	d := push.Delivery{Update: push.Update{EventID: "e1", TenantID: "t", PassID: "p"}}

	first := f.Push(context.Background(), d)
	if got := wallet.pushed(); !slices.Equal(got, []string{"d1", "d2", "d3"}) {
		t.Fatalf("first attempt pushed %v", got)
	}
	r := result(t, first, "apple")
	if !first.Pending || !slices.Equal(r.Pushed, []string{"d1"}) || !slices.Equal(r.Removed, []string{"d3"}) {
		t.Fatalf("after the first attempt: pending %v, %+v; want pending, d1 pushed, d3 removed", first.Pending, r)
	}
	d.Progress = first.Progress
	second := f.Push(context.Background(), d)
	if got := wallet.pushed(); !slices.Equal(got, []string{"d2"}) {
		t.Errorf("the retry pushed %v, want only [d2]", got)
	}
	r = result(t, second, "apple")
	if second.Pending || second.Failed() || r.Outcome != push.ChannelDelivered || !slices.Equal(r.Pushed, []string{"d1", "d2"}) {
		t.Errorf("after the retry: %+v, want delivered to d1 and d2", r)
	}
}

// A pass with no target on a channel is not installed there; a channel the tenant has not set up is left out;
// a channel whose targets can't be read waits for a retry.
func TestFanOut_noTargetsNotSetUpAndUnreadableTargets(t *testing.T) {
	none := &scripted{kind: "apple"}
	off := &scripted{kind: "google", targetsErr: push.ErrNotSetUp}
	down := &scripted{kind: "webhook", targetsErr: errors.New("database is down")}
	a := fanOut(t, none, off, down).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e1"}})
	if r := result(t, a, "apple"); r.Outcome != push.ChannelNotInstalled || !r.Delivered {
		t.Errorf("apple without devices: %+v, want not_installed", r)
	}
	if slices.ContainsFunc(a.Progress, func(r pass.ChannelResult) bool { return r.Channel == "google" }) {
		t.Errorf("a channel that is not set up is in the results: %+v", a.Progress)
	}
	if r := result(t, a, "webhook"); r.Outcome != "" || !a.Pending {
		t.Errorf("webhook whose targets could not be read: %+v, pending %v; want pending", r, a.Pending)
	}
	// The store failed, not the channel: no attempt is spent, and the update comes back soon, however many times
	// that happened before (a PostgreSQL restart held a pass's updates back for minutes when it grew a backoff).
	if r := result(t, a, "webhook"); r.Attempts != 0 || !a.Throttled || a.RetryAfter != push.StoreRetry {
		t.Errorf("webhook whose targets could not be read: attempts %d, throttled %v, retry after %s; want 0, true, %s",
			r.Attempts, a.Throttled, a.RetryAfter, push.StoreRetry)
	}
	gaveUp := a.GiveUp("gave up after 1 attempts")
	if r := result(t, gaveUp, "webhook"); r.Outcome != push.ChannelFailed || gaveUp.Pending {
		t.Errorf("given up: %+v, want failed", r)
	}
}

// A wallet needs only the latest state: a superseded update is recorded as such there and not pushed, while the
// webhook still gets it.
func TestFanOut_aSupersededUpdateSkipsOnlyLatestOnlyChannels(t *testing.T) {
	webhook := &scripted{kind: "webhook", targets: []string{"default"}}
	wallet := &scripted{kind: "apple", targets: []string{"d1"}, latestOnly: true}
	a := fanOut(t, webhook, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e1"}, Superseded: true})
	if got := wallet.pushed(); len(got) != 0 {
		t.Errorf("the wallet got a superseded update: %v", got)
	}
	if got := webhook.pushed(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("the webhook got %v, want the update", got)
	}
	if r := result(t, a, "apple"); r.Outcome != push.ChannelSuperseded || !r.Delivered {
		t.Errorf("apple: %+v, want superseded", r)
	}
}

// A superseded update leaves out a wallet channel the tenant has not set up, as any other update does: it is
// not recorded as superseded there.
func TestFanOut_aSupersededUpdateLeavesOutAWalletNotSetUp(t *testing.T) {
	webhook := &scripted{kind: "webhook", targets: []string{"default"}}
	wallet := &scripted{kind: "apple", targetsErr: push.ErrNotSetUp, latestOnly: true}
	a := fanOut(t, webhook, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e1"}, Superseded: true})
	if len(a.Progress) != 1 || a.Progress[0].Channel != "webhook" {
		t.Errorf("results %+v, want the webhook's alone", a.Progress)
	}
}

func TestNewFanOut_refusesTwoChannelsOfOneKind(t *testing.T) {
	if _, err := push.NewFanOut(&scripted{kind: "webhook"}, &scripted{kind: "webhook"}); err == nil {
		t.Error("two webhook channels were accepted")
	}
}

// A target that answers that the pass is not installed there (a Google object the customer never saved) settles
// its channel as not_installed, with no retry.
func TestFanOut_aTargetWithoutThePassSettlesNotInstalled(t *testing.T) {
	wallet := &scripted{kind: "google", targets: []string{"o1"}, latestOnly: true,
		script: map[string][]push.Outcome{"o1": {{Kind: push.NotInstalled, Reason: "404"}}}}
	a := fanOut(t, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e1"}})
	if r := result(t, a, "google"); a.Pending || a.Failed() || r.Outcome != push.ChannelNotInstalled || !r.Delivered || r.Attempts != 1 {
		t.Errorf("google after a 404: pending %v, %+v; want settled as not_installed after 1 attempt", a.Pending, r)
	}
}

// A channel that its rate limit holds back is throttled, not failing: the attempt says when to come back. A
// channel that fails beside it makes the retry an ordinary one.
func TestFanOut_aRateLimitedChannelIsThrottledNotFailing(t *testing.T) {
	held := push.Outcome{Kind: push.Retry, Reason: "held back by the rate limit", After: 3 * time.Second}
	webhook := &scripted{kind: "webhook", targets: []string{"default"}}
	wallet := &scripted{kind: "google", targets: []string{"o1"}, script: map[string][]push.Outcome{"o1": {held, held}}}
	d := push.Delivery{Update: push.Update{EventID: "e1"}}
	a := fanOut(t, webhook, wallet).Push(context.Background(), d)
	if !a.Pending || !a.Throttled || a.RetryAfter != 3*time.Second {
		t.Errorf("held back: pending %v, throttled %v, retry after %s; want throttled, after 3s", a.Pending, a.Throttled, a.RetryAfter)
	}
	failing := &scripted{kind: "apple", targets: []string{"d1"}, script: map[string][]push.Outcome{"d1": {retry}}}
	d.Progress = a.Progress
	a = fanOut(t, webhook, wallet, failing).Push(context.Background(), d)
	if !a.Pending || a.Throttled || a.RetryAfter != 3*time.Second {
		t.Errorf("held back beside a 503: pending %v, throttled %v, retry after %s; want an ordinary retry, not before 3s", a.Pending, a.Throttled, a.RetryAfter)
	}
}

// A push its rate limit held back sent nothing: the channel's attempts count what went out, so a receiver's
// retries and an operator's "delivered on attempt N" are not inflated by the turns a channel waited for.
func TestFanOut_aHeldBackPushIsNoAttempt(t *testing.T) {
	held := push.Outcome{Kind: push.Retry, Reason: "held back by the rate limit", After: time.Second}
	wallet := &scripted{kind: "google", targets: []string{"o1"}, script: map[string][]push.Outcome{"o1": {retry, held}}}
	d := push.Delivery{Update: push.Update{EventID: "e1"}}
	f := fanOut(t, wallet)
	for i, want := range []int{1, 1, 2} {
		a := f.Push(context.Background(), d)
		if got := result(t, a, "google").Attempts; got != want {
			t.Errorf("after push %d: %d attempts, want %d", i+1, got, want)
		}
		d.Progress = a.Progress
	}
}

// limited is a channel whose rate limit holds every update back for after, counting how often its targets were
// listed: a held-back update must cost it nothing else.
type limited struct {
	scripted
	after   time.Duration
	asked   int
	targets int
}

func (c *limited) HoldBack(context.Context, push.Update) time.Duration {
	c.asked++
	return c.after
}

func (c *limited) Targets(ctx context.Context, tenantID, passID string) ([]push.Target, error) {
	c.targets++
	return c.scripted.Targets(ctx, tenantID, passID)
}

// A rate-limited channel that holds the update back is asked before its targets are listed: the attempt is
// throttled, due at the time the channel gave, and the channel lists nothing and pushes nothing; the other
// channels are pushed. A superseded update takes no turn: the channel is not asked.
func TestFanOut_anUpdateHeldBackCostsTheChannelNothingElse(t *testing.T) {
	webhook := &scripted{kind: "webhook", targets: []string{"default"}}
	wallet := &limited{scripted: scripted{kind: "google", targets: []string{"o1"}, latestOnly: true}, after: 3 * time.Second}
	before := time.Now()
	a := fanOut(t, webhook, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e1"}})
	r := result(t, a, "google")
	if !a.Pending || !a.Throttled || r.Attempts != 0 || a.RetryAt.Before(before.Add(3*time.Second)) || a.RetryAt.After(time.Now().Add(3*time.Second)) {
		t.Errorf("held back: pending %v, throttled %v, %+v, retry at %s after the start; want throttled, no attempt, 3s",
			a.Pending, a.Throttled, r, a.RetryAt.Sub(before))
	}
	if wallet.targets != 0 || len(wallet.pushed()) != 0 || len(webhook.pushed()) != 1 {
		t.Errorf("held back: google's targets listed %d times, pushed %v; webhook pushed once? want no listing, no push", wallet.targets, wallet.pushed())
	}

	wallet.asked = 0
	a = fanOut(t, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e2"}, Superseded: true})
	if wallet.asked != 0 || a.Pending || result(t, a, "google").Outcome != push.ChannelSuperseded {
		t.Errorf("superseded: asked %d times, pending %v; want settled as superseded without asking", wallet.asked, a.Pending)
	}

	wallet.after = 0
	a = fanOut(t, wallet).Push(context.Background(), push.Delivery{Update: push.Update{EventID: "e3"}})
	if a.Pending || wallet.targets != 2 || len(wallet.pushed()) != 1 {
		t.Errorf("turn now: pending %v, targets listed %d times; want delivered, listed", a.Pending, wallet.targets)
	}
}
