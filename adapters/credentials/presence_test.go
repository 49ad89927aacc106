package credentials

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/contracttest"
)

// TestPresence_answersFromTheCacheUntilMaxAge: a tenant without credentials of the kind costs one read per
// MaxAge, and a credential added is seen once MaxAge has passed, per tenant.
func TestPresence_answersFromTheCacheUntilMaxAge(t *testing.T) {
	_, store, _ := newClients(t, ClientsConfig{})
	presence, err := NewPresence(store, "apple", ClientsConfig{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk := contracttest.NewClock()
	presence.now = clk.Now
	has := func(tenantID string) bool {
		t.Helper()
		ok, err := presence.Has(context.Background(), tenantID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if has("t1") {
		t.Fatal("a tenant without credentials has one")
	}
	mustPut(t, store, "t1", "pass.com.example.a", "cert")
	mustPut(t, store, "t2", "pass.com.example.b", "cert")
	if has("t1") {
		t.Error("the answer was read again before MaxAge")
	}
	if !has("t2") {
		t.Error("another tenant's answer came from t1's")
	}
	clk.Advance(time.Minute)
	if !has("t1") {
		t.Error("a credential added was not seen after MaxAge")
	}
	if err := store.Delete(context.Background(), "t1", "apple", "pass.com.example.a"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if has("t1") {
		t.Error("a credential deleted was still seen after MaxAge")
	}
}

// heldLister is the real store whose first read waits for release, so that other reads happen meanwhile.
type heldLister struct {
	*Store
	mu      sync.Mutex
	reads   int
	entered chan struct{}
	release chan struct{}
}

func (l *heldLister) List(ctx context.Context, tenantID, kind string) ([]Credential, error) {
	list, err := l.Store.List(ctx, tenantID, kind)
	l.mu.Lock()
	l.reads++
	first := l.reads == 1
	l.mu.Unlock()
	l.entered <- struct{}{}
	if first {
		<-l.release
	}
	return list, err
}

// TestPresence_concurrentMissesShareOneRead: the calls that miss a tenant's answer while it is being read wait
// for that read instead of each running their own.
func TestPresence_concurrentMissesShareOneRead(t *testing.T) {
	_, store, _ := newClients(t, ClientsConfig{})
	mustPut(t, store, "t1", "pass.com.example.a", "cert")
	presence, err := NewPresence(store, "apple", ClientsConfig{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	held := &heldLister{Store: store, entered: make(chan struct{}, 100), release: make(chan struct{})}
	presence.store = held

	const callers = 16
	answers := make(chan bool, callers+1)
	has := func() {
		ok, err := presence.Has(context.Background(), "t1")
		if err != nil {
			t.Errorf("Has: %v", err)
		}
		answers <- ok
	}
	go has()
	<-held.entered // the first read is in flight
	for range callers {
		go has()
	}
	// A caller that did not share the read in flight reaches the store: give them the time to.
	select {
	case <-held.entered:
		t.Error("a second read reached the store while the first was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(held.release)
	for range callers + 1 {
		if !<-answers {
			t.Error("Has = false for a tenant with a credential")
		}
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	if held.reads != 1 {
		t.Errorf("%d concurrent calls made %d reads, want 1", callers+1, held.reads)
	}
}

// gatedLister is the real store whose reads, once gate is set, wait for it to be closed.
type gatedLister struct {
	*Store
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (l *gatedLister) List(ctx context.Context, tenantID, kind string) ([]Credential, error) {
	list, err := l.Store.List(ctx, tenantID, kind)
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	if gate != nil {
		l.entered <- struct{}{}
		<-gate
	}
	return list, err
}

// TestPresence_readsAnAnswerInUseAgainBeforeItExpires: an answer asked for in its last quarter of MaxAge is read
// again in the background while the caller gets the cached one at once, so the calls of a busy tenant never
// wait for the read; the new answer replaces it before it expires.
func TestPresence_readsAnAnswerInUseAgainBeforeItExpires(t *testing.T) {
	_, store, _ := newClients(t, ClientsConfig{})
	presence, err := NewPresence(store, "apple", ClientsConfig{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk := contracttest.NewClock()
	presence.now = clk.Now
	lister := &gatedLister{Store: store, entered: make(chan struct{}, 100)}
	presence.store = lister
	has := func() bool {
		t.Helper()
		ok, err := presence.Has(context.Background(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if has() {
		t.Fatal("a tenant without credentials has one")
	}
	mustPut(t, store, "t1", "pass.com.example.a", "cert")
	gate := make(chan struct{})
	lister.mu.Lock()
	lister.gate = gate
	lister.mu.Unlock()

	clk.Advance(time.Minute - refreshAhead(time.Minute))
	answered := make(chan bool, 1)
	go func() {
		ok, err := presence.Has(context.Background(), "t1")
		if err != nil {
			t.Error(err)
		}
		answered <- ok
	}()
	select {
	case ok := <-answered:
		if ok {
			t.Error("before MaxAge the answer was not the cached one")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call before MaxAge waited for the store's read")
	}
	select {
	case <-lister.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("an answer in its last quarter of MaxAge was not read again")
	}
	close(gate)
	// The new answer comes in before the old one expires.
	for deadline := time.Now().Add(10 * time.Second); !has(); {
		if time.Now().After(deadline) {
			t.Fatal("the answer read again did not replace the cached one")
		}
		time.Sleep(time.Millisecond)
	}
}
