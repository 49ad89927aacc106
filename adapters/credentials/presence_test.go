package credentials

import (
	"context"
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
