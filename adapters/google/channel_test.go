package google

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/push"
)

const (
	testIssuer = "3388000000012345678"
	testTenant = "t1"
	testPass   = "p1"
	testObject = testIssuer + "." + testTenant + "_" + testPass
)

// passObjects builds every pass's object from the data the test gives it, as (*Objects).Build does from the read
// model: the channel sees only ObjectBuilder.
type passObjects struct {
	mu     sync.Mutex
	data   map[string]string
	builds int
}

func (o *passObjects) built() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.builds
}

func (o *passObjects) set(data map[string]string) {
	o.mu.Lock()
	o.data = data
	o.mu.Unlock()
}

// HasClass: the test tenant has the loyalty class, as Build's objects say.
func (o *passObjects) HasClass(_ context.Context, tenantID, passType string) (bool, error) {
	return tenantID == testTenant && passType == "loyalty", nil
}

func (o *passObjects) BuildFor(ctx context.Context, _ *Account, tenantID, passID string) (Object, error) {
	return o.Build(ctx, tenantID, passID)
}

func (o *passObjects) Build(_ context.Context, tenantID, passID string) (Object, error) {
	if tenantID != testTenant {
		return Object{}, fmt.Errorf("tenant %s: %w", tenantID, push.ErrNotSetUp)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.builds++
	id := testIssuer + "." + tenantID + "_" + passID
	var modules []any
	for k, v := range o.data {
		modules = append(modules, map[string]any{"id": k, "header": k, "body": v})
	}
	return Object{Type: "generic", ID: id, Body: map[string]any{
		"id": id, "classId": testIssuer + ".loyalty",
		"cardTitle":       map[string]any{"defaultValue": map[string]any{"language": "en", "value": "Passpush"}},
		"header":          map[string]any{"defaultValue": map[string]any{"language": "en", "value": o.data["offer"]}},
		"textModulesData": modules,
	}}, nil
}

type fixture struct {
	db      *sqldb.DB
	store   *credentials.Store
	fake    *googletest.Fake
	objects *passObjects
	channel *Channel
}

func newFixture(t *testing.T, rate float64, cfg ChannelConfig) *fixture {
	t.Helper()
	f := &fixture{db: sqldbtest.New(t), fake: googletest.New(t), objects: &passObjects{data: map[string]string{"offer": "10% off"}}}
	var err error
	if f.store, err = credentials.NewStore(f.db, secretboxtest.New(t)); err != nil {
		t.Fatal(err)
	}
	data, err := EncodeSettings(Settings{IssuerID: testIssuer, Rate: rate,
		ServiceAccount: f.fake.ServiceAccount(t, "passpush@passpush-test.iam.gserviceaccount.com")})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Put(context.Background(), testTenant, Kind, DefaultName, data); err != nil {
		t.Fatal(err)
	}
	cfg.APIURL = f.fake.URL
	f.channel = f.newChannel(t, cfg)
	return f
}

// newChannel returns another channel on the fixture's database, as another instance, or this one restarted, has.
func (f *fixture) newChannel(t *testing.T, cfg ChannelConfig) *Channel {
	t.Helper()
	cfg.APIURL = f.fake.URL
	if cfg.MaxTurnWait == 0 {
		// The tests push one update after another and expect each to go out, as a delivery that came back for
		// its turn would: they wait for the turn.
		cfg.MaxTurnWait = time.Second
	}
	ch, err := NewChannel(f.db, f.store, f.objects, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func update(eventID, message string) push.Update {
	return push.Update{EventID: eventID, TenantID: testTenant, PassID: testPass, PassType: "loyalty", Message: message}
}

// deliver makes attempts of the update through the fan-out, as the delivery stage does, until it settles or
// attempts run out, and returns the channel's result.
func deliver(t *testing.T, ch *Channel, u push.Update, attempts int) push.Attempt {
	t.Helper()
	f, err := push.NewFanOut(ch)
	if err != nil {
		t.Fatal(err)
	}
	d := push.Delivery{Update: u}
	var a push.Attempt
	for range attempts {
		a = f.Push(contracttest.Context(t), d)
		if !a.Pending {
			return a
		}
		d.Progress, d.Attempts = a.Progress, d.Attempts+1
	}
	return a
}

func googleResult(t *testing.T, a push.Attempt) (outcome, detail string, attempts int) {
	t.Helper()
	for _, r := range a.Progress {
		if r.Channel == Kind {
			return r.Outcome, r.Detail, r.Attempts
		}
	}
	t.Fatalf("no google result in %+v", a.Progress)
	return "", "", 0
}

func messageTypes(f *fixture) []string {
	var types []string
	for _, m := range f.fake.Messages("generic", testObject) {
		types = append(types, fmt.Sprint(m["messageType"]))
	}
	return types
}

func TestChannel_patchCarriesTheNewValuesAndTheMessageIsAddedOnce(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	f.fake.PutObject("generic", testObject, map[string]any{"classId": testIssuer + ".loyalty"})
	f.objects.set(map[string]string{"offer": "20% off", "tier": "gold"})

	a := deliver(t, f.channel, update("e1", "Your offer changed"), 1)
	if outcome, detail, _ := googleResult(t, a); outcome != push.ChannelDelivered {
		t.Fatalf("google: %s %s, want delivered", outcome, detail)
	}
	patches := f.fake.Requests(googletest.CallPatch)
	if len(patches) != 1 || patches[0].ObjectID != testObject {
		t.Fatalf("patches: %+v, want one of %s", patches, testObject)
	}
	body := fmt.Sprint(patches[0].Body)
	for _, want := range []string{"20% off", "gold", testIssuer + ".loyalty"} {
		if !strings.Contains(body, want) {
			t.Errorf("the PATCH body %s lacks %q", body, want)
		}
	}
	messages := f.fake.Messages("generic", testObject)
	if len(messages) != 1 || messages[0]["id"] != "e1" || messages[0]["body"] != "Your offer changed" ||
		messages[0]["messageType"] != MessageTextAndNotify {
		t.Errorf("messages: %v, want one TEXT_AND_NOTIFY with id e1", messages)
	}

	// An update without a message patches only.
	deliver(t, f.channel, update("e2", ""), 1)
	if n := len(f.fake.Requests(googletest.CallAddMessage)); n != 1 {
		t.Errorf("addMessage calls after an update without a message: %d, want 1", n)
	}
}

// Google shows 3 notifying messages per pass a day: the fourth is TEXT, counted in the database, so a new channel
// (a restart, another instance) keeps the count; a retried update's message is counted once.
func TestChannel_theFourthMessageIn24HoursIsText(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	f.fake.PutObject("generic", testObject, nil)
	deliver(t, f.channel, update("e1", "one"), 1)
	deliver(t, f.channel, update("e1", "one"), 1) // the same update again: Google already has its message
	deliver(t, f.channel, update("e2", "two"), 1)
	restarted := f.newChannel(t, ChannelConfig{})
	deliver(t, restarted, update("e3", "three"), 1)
	deliver(t, restarted, update("e4", "four"), 1)
	deliver(t, restarted, update("e5", "five"), 1)
	want := []string{MessageTextAndNotify, MessageTextAndNotify, MessageTextAndNotify, MessageText, MessageText}
	if got := messageTypes(f); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("message types: %v, want %v", got, want)
	}

	// A day later the pass notifies again.
	restarted.messages.now = func() time.Time { return time.Now().Add(messageWindow + time.Minute) }
	deliver(t, restarted, update("e6", "six"), 1)
	if got := messageTypes(f); got[len(got)-1] != MessageTextAndNotify {
		t.Errorf("a message a day later is %s, want TEXT_AND_NOTIFY", got[len(got)-1])
	}
}

// A 404 means the customer never saved the pass: not installed, with no retry and no message.
func TestChannel_aPassNeverSavedIsNotInstalled(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	a := deliver(t, f.channel, update("e1", "hello"), 3)
	outcome, detail, attempts := googleResult(t, a)
	if a.Pending || outcome != push.ChannelNotInstalled || attempts != 1 {
		t.Errorf("google: %s (%s) after %d attempts, pending %v; want not_installed after 1", outcome, detail, attempts, a.Pending)
	}
	if n := len(f.fake.Requests(googletest.CallAddMessage)); n != 0 {
		t.Errorf("%d addMessage calls for a pass never saved", n)
	}
	// Its message did not use up a notification.
	f.fake.PutObject("generic", testObject, nil)
	for _, e := range []string{"e2", "e3", "e4"} {
		deliver(t, f.channel, update(e, e), 1)
	}
	if got := messageTypes(f); strings.Join(got, ",") != strings.Repeat(MessageTextAndNotify+",", 2)+MessageTextAndNotify {
		t.Errorf("messages after a 404: %v, want 3 notifying", got)
	}
}

// A 500 or a 429 is retried, and a message whose answer was lost is not shown twice.
func TestChannel_serverErrorsAreRetriedAndTheMessageIsShownOnce(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	f.fake.PutObject("generic", testObject, nil)
	f.fake.Fail(googletest.CallPatch, http.StatusTooManyRequests, 1)
	f.fake.FailAfterApplying(googletest.CallAddMessage, http.StatusInternalServerError, 1)

	a := deliver(t, f.channel, update("e1", "hello"), 5)
	outcome, detail, attempts := googleResult(t, a)
	if outcome != push.ChannelDelivered || attempts != 3 {
		t.Errorf("google: %s (%s) after %d attempts, want delivered after 3 (429, 500, then done)", outcome, detail, attempts)
	}
	if got := messageTypes(f); len(got) != 1 || got[0] != MessageTextAndNotify {
		t.Errorf("messages: %v, want one TEXT_AND_NOTIFY", got)
	}
	for _, r := range f.fake.Requests(googletest.CallAddMessage) {
		if m, _ := r.Body["message"].(map[string]any); m["id"] != "e1" || m["messageType"] != MessageTextAndNotify {
			t.Errorf("an addMessage attempt sent %v, want id e1, TEXT_AND_NOTIFY each time", m)
		}
	}
	// The retried message counted once: two more notify.
	deliver(t, f.channel, update("e2", "two"), 1)
	deliver(t, f.channel, update("e3", "three"), 1)
	if got := messageTypes(f); got[2] != MessageTextAndNotify {
		t.Errorf("messages: %v, want 3 notifying", got)
	}
}

func TestChannel_refusedCredentialsAreFinal(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFixture(t, 0, ChannelConfig{})
			f.fake.PutObject("generic", testObject, nil)
			f.fake.Fail(googletest.CallPatch, status, 1)
			a := deliver(t, f.channel, update("e1", "hello"), 3)
			outcome, detail, attempts := googleResult(t, a)
			if outcome != push.ChannelFailed || attempts != 1 || !strings.Contains(detail, fmt.Sprint(status)) {
				t.Errorf("google: %s (%s) after %d attempts, want failed after 1 with the status", outcome, detail, attempts)
			}
		})
	}
}

func TestChannel_aTimeoutIsRetried(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{CallTimeout: 100 * time.Millisecond})
	f.fake.PutObject("generic", testObject, nil)
	f.fake.SetLatency(time.Second)
	o := f.channel.Push(contracttest.Context(t), push.Target{ID: testObject, Credential: DefaultName}, update("e1", ""))
	if o.Kind != push.Retry {
		t.Errorf("a timed-out patch: %+v, want retry", o)
	}
}

// A tenant without Google settings, or a pass type without a class, leaves the channel out.
func TestChannel_targets(t *testing.T) {
	f := newFixture(t, 0, ChannelConfig{})
	targets, err := f.channel.Targets(contracttest.Context(t), testTenant, testPass)
	if err != nil || len(targets) != 1 || targets[0].ID != testObject {
		t.Errorf("targets: %v, %v; want the object %s", targets, err, testObject)
	}
	if _, err := f.channel.Targets(contracttest.Context(t), "other", testPass); err != push.ErrNotSetUp {
		t.Errorf("targets of a tenant without settings: %v, want push.ErrNotSetUp", err)
	}
}

// The token is fetched once and reused, not fetched per call.
func TestChannel_theTokenIsFetchedOnceForManyPushes(t *testing.T) {
	f := newFixture(t, 1000, ChannelConfig{})
	f.fake.PutObject("generic", testObject, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			deliver(t, f.channel, update(fmt.Sprintf("e%d", i), "hello"), 1)
		})
	}
	wg.Wait()
	if n := len(f.fake.Requests(googletest.CallPatch)); n != 20 {
		t.Fatalf("%d patches, want 20", n)
	}
	if n := f.fake.TokenCalls(); n != 1 {
		t.Errorf("the token endpoint was called %d times for 20 pushes, want once", n)
	}
}

// The limiter holds the tenant's rate with a burst of at most 5: N calls take at least (N − 5)/rate. A push whose
// turn is more than a second away is told when to come back, and its retry takes the turn reserved for it.
func TestChannel_theLimiterHoldsTheTenantsRate(t *testing.T) {
	const rate, n = 20.0, 35 // the last turn is 1.5 s away
	f := newFixture(t, rate, ChannelConfig{})
	f.fake.PutObject("generic", testObject, nil)
	start := time.Now()
	var wg sync.WaitGroup
	var heldBack atomic.Int32
	for i := range n {
		wg.Go(func() {
			u := update(fmt.Sprintf("e%d", i), "")
			for {
				o := f.channel.Push(contracttest.Context(t), push.Target{ID: testObject, Credential: DefaultName}, u)
				if o.Kind == push.Retry && o.After > 0 {
					heldBack.Add(1)
					time.Sleep(o.After)
					continue
				}
				if o.Kind != push.Delivered {
					t.Errorf("push %d: %+v", i, o)
				}
				return
			}
		})
	}
	wg.Wait()
	want := time.Duration(float64(n-MaxBurst) / rate * float64(time.Second))
	if elapsed := time.Since(start); elapsed < want {
		t.Errorf("%d calls at %v/s took %s, want at least %s", n, rate, elapsed, want)
	}
	if heldBack.Load() == 0 {
		t.Error("no push was held back, though the last turns were more than a second away")
	}
	if got := len(f.fake.Requests(googletest.CallPatch)); got != n {
		t.Errorf("%d patches for %d updates: a held-back push must not call before its turn", got, n)
	}
}

// A turn further away than the wait allowed is reserved for its key: the retry with that key takes it at its time
// without reserving another, so held-back updates go out in the order of their turns.
func TestLimiter_aTurnTooFarAwayIsKeptForItsRetry(t *testing.T) {
	l := newLimiter(10, newCallers(sqldbtest.New(t)))
	ctx := contracttest.Context(t)
	for i := range MaxBurst {
		if after, err := l.Take(ctx, fmt.Sprint("burst", i), 1, 0); err != nil || after != 0 {
			t.Fatalf("burst call %d: after %s, %v", i, after, err)
		}
	}
	first, err := l.Take(ctx, "late", 2, 0)
	if err != nil || first <= 0 {
		t.Fatalf("a call past the burst: after %s, %v; want a turn later", first, err)
	}
	second, err := l.Take(ctx, "later", 1, 0)
	if err != nil || second <= first {
		t.Fatalf("the next key's turn comes after %s, want after the first's %s", second, first)
	}
	time.Sleep(first)
	if after, err := l.Take(ctx, "late", 2, 0); err != nil || after != 0 {
		t.Errorf("the retry at its turn: after %s, %v; want its reserved turn now", after, err)
	}
}

// A retry that comes back for its turn more than lateTurn after its time takes a new turn: its call would
// otherwise go out on top of the turns reserved after it.
func TestLimiter_aTurnTakenTooLateIsReservedAgain(t *testing.T) {
	l := newLimiter(10, newCallers(sqldbtest.New(t)))
	ctx := contracttest.Context(t)
	for i := range MaxBurst {
		if after, err := l.Take(ctx, fmt.Sprint("burst", i), 1, 0); err != nil || after != 0 {
			t.Fatalf("burst call %d: after %s, %v", i, after, err)
		}
	}
	after, err := l.Take(ctx, "late", 1, 0)
	if err != nil || after <= 0 {
		t.Fatalf("a call past the burst: after %s, %v; want a turn later", after, err)
	}
	// The bucket is full again by then: a new turn takes one of its tokens, the held one took its token already.
	time.Sleep(after + 3*lateTurn)
	took := time.Now()
	if after, err := l.Take(ctx, "late", 1, 0); err != nil || after != 0 {
		t.Fatalf("the late retry: after %s, %v; want a turn now", after, err)
	}
	// Read the bucket as the take left it: a time before the take's adds no refill, so a slow machine between
	// the take and this read can't fill the token back and hide a take that took none.
	if tokens := l.limiter.TokensAt(took); tokens > float64(MaxBurst)-0.5 {
		t.Errorf("after the late retry the bucket holds %.2f of %d tokens: it took its old turn, want a new one", tokens, MaxBurst)
	}
}

// Waiting for the limiter ends with the context, and gives the turn back.
func TestLimiter_waitingRespectsTheContext(t *testing.T) {
	l := newLimiter(1, newCallers(sqldbtest.New(t)))
	ctx := contracttest.Context(t)
	for i := range MaxBurst {
		if _, err := l.Take(ctx, fmt.Sprint(i), 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := l.Take(short, "late", 1, time.Minute); err == nil {
		t.Error("a wait past the context's deadline succeeded")
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("the wait took %s, want it to end with the context", elapsed)
	}
}

// Each instance that calls the API takes an equal share of a tenant's rate.
func TestLimiter_theRateIsDividedAmongTheInstances(t *testing.T) {
	dbs := sqldbtest.Instances(t, 2)
	a, b := newCallers(dbs[0]), newCallers(dbs[1])
	ctx := contracttest.Context(t)
	if n := a.Count(ctx); n != 1 {
		t.Errorf("one instance counts %d", n)
	}
	if n := b.Count(ctx); n != 2 {
		t.Errorf("a second instance counts %d, want 2", n)
	}
	l := newLimiter(20, b)
	if _, err := l.Take(ctx, "k", 1, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := l.limiter.Limit(); got != 10 || l.limiter.Burst() != max(1, MaxBurst/2) {
		t.Errorf("the second instance's share: %v/s, burst %d; want 10/s, burst %d", got, l.limiter.Burst(), max(1, MaxBurst/2))
	}
	// An update's two calls take two turns although the share's burst is one: at 10/s, with the bucket empty,
	// they go after about 200 ms, not 100.
	start := time.Now()
	if after, err := l.Take(ctx, "two calls", 2, time.Second); err != nil || after != 0 {
		t.Fatalf("an update's two calls: after %s, %v", after, err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("an update's two calls waited %s at 10/s with the bucket empty, want about 200ms: a turn each", waited)
	}
	// An instance that stopped calling drops out.
	b.now = func() time.Time { return time.Now().Add(callerTTL + time.Second) }
	b.refreshed = time.Time{}
	if n := b.Count(ctx); n != 1 {
		t.Errorf("after the other stopped calling: %d instances, want 1", n)
	}
}

// An update whose turn is further away than MaxTurnWait is held back before anything is read for it: no object is
// built, its turn is kept, and the retry, due a little before the turn, builds the object once and pushes it once. A pass type without a
// class takes no turn.
func TestChannel_anUpdateHeldBackBuildsNothingAndTakesItsTurnOnce(t *testing.T) {
	f := newFixture(t, 2, ChannelConfig{MaxTurnWait: 50 * time.Millisecond})
	fan, err := push.NewFanOut(f.channel)
	if err != nil {
		t.Fatal(err)
	}
	ctx := contracttest.Context(t)
	if a := fan.Push(ctx, push.Delivery{Update: update("e1", "hello")}); a.Pending {
		t.Fatalf("the first update, within the burst: %+v", a)
	}
	builds := f.objects.built()
	start := time.Now()
	d := push.Delivery{Update: update("e2", "hello")}
	a := fan.Push(ctx, d)
	if !a.Pending || !a.Throttled || a.RetryAt.Before(start.Add(500*time.Millisecond)) {
		t.Fatalf("the second update, a second's turn away at 2 calls/s: %+v; want held back for about a second", a)
	}
	if got := f.objects.built() - builds; got != 0 {
		t.Errorf("the held-back update built its object %d times, want none", got)
	}

	coupon := update("e3", "")
	coupon.PassType = "coupon"
	client, err := f.channel.clients.Get(ctx, testTenant, DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if after := f.channel.HoldBack(ctx, coupon); after != 0 || len(client.limiter.held) != 1 {
		t.Errorf("a pass type without a class: held back %s, %d turns held; want not held back, only e2's turn", after, len(client.limiter.held))
	}

	time.Sleep(time.Until(a.RetryAt))
	d.Progress = a.Progress
	if a = fan.Push(ctx, d); a.Pending {
		t.Fatalf("the retry at its turn: %+v; want delivered", a)
	}
	if got := f.objects.built() - builds; got != 1 {
		t.Errorf("the retry built its object %d times, want once: its push takes what its targets built", got)
	}
	if got := len(f.fake.Requests(googletest.CallPatch)); got != 2 {
		t.Errorf("%d patches for 2 updates, want 2", got)
	}
}
