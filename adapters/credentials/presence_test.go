package credentials

import (
	"context"
	"errors"
	"sync/atomic"
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

// TestPresence_callersThatMissAtOnceWaitForOneRead: the deliveries in flight when an answer expires each asked
// the database; now one reads and the others take its answer.
func TestPresence_callersThatMissAtOnceWaitForOneRead(t *testing.T) {
	_, store, _ := newClients(t, ClientsConfig{})
	presence, err := NewPresence(store, "apple", ClientsConfig{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, store, "t1", "pass.com.example.a", "cert")
	var reads atomic.Int32
	release := make(chan struct{})
	list := presence.list
	presence.list = func(ctx context.Context, tenantID, kind string) ([]Credential, error) {
		reads.Add(1)
		<-release
		return list(ctx, tenantID, kind)
	}
	const callers = 20
	answers := make(chan bool, callers)
	for range callers {
		go func() {
			has, err := presence.Has(context.Background(), "t1")
			if err != nil {
				t.Error(err)
			}
			answers <- has
		}()
	}
	// Every caller is either the reader or waiting on it once the read has begun and the others had time to ask.
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range callers {
		if !<-answers {
			t.Error("a caller was told the tenant has no credential")
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d reads for %d callers that missed at once, want 1", n, callers)
	}

	// A failed read is not kept: the next caller reads again.
	presence.list = func(context.Context, string, string) ([]Credential, error) { return nil, errors.New("database down") }
	if _, err := presence.Has(context.Background(), "t2"); err == nil {
		t.Fatal("a failed read answered")
	}
	presence.list = list
	mustPut(t, store, "t2", "pass.com.example.b", "cert")
	if has, err := presence.Has(context.Background(), "t2"); err != nil || !has {
		t.Fatalf("after a failed read: %v, %v; want the credential", has, err)
	}
}
