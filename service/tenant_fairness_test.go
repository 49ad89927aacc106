package service_test

// Issue 13 §6: deliveries are fair across tenants. A tenant whose webhook hangs holds at most its share of the
// delivery slots while another tenant has work, so the other tenant's deliveries go out at once.

import (
	"fmt"
	"testing"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/service"
)

func TestDeliveries_aHangingTenantDoesNotHoldUpAnother(t *testing.T) {
	const slots, share = 8, 25 // a share of 2 slots; 6 may be lent while nobody else has work
	var config service.Config
	config.Delivery.Concurrency = slots
	config.Delivery.BurstConcurrency = slots
	config.Delivery.TenantShare = share
	// Longer than the test: a hanging call holds its slot until the test ends.
	config.Delivery.AttemptTimeout = time.Minute
	h := startService(t, config)

	hanging, healthy := newReceiver(t, webhookSecret), newReceiver(t, webhookSecret)
	hold := make(chan struct{})
	hanging.configure(func(r *receiver) { r.hold = hold })
	t.Cleanup(func() { close(hold) }) // before the receivers and the service stop
	h.tenantWithWebhook("slow", hanging)
	h.tenantWithWebhook("fast", healthy)
	passesOf := func(n int) []command.RegisterPass {
		var passes []command.RegisterPass
		for i := range n {
			passes = append(passes, loyaltyPass(fmt.Sprintf("p-%d", i), "contact@example.com", ""))
		}
		return passes
	}
	h.importPasses("slow", passesOf(20))
	h.importPasses("fast", passesOf(10))
	jb := newJourneyBuilder(h)
	entryOf := func(tenantID string) string {
		return jb.signedWithSecret(sfmcSecretOf(tenantID), jb.executeClaims("entry-1", in("email", "contact@example.com"), in("points", "1")))
	}

	// The slow tenant's 20 updates come first and, alone, take all the slots the stage lends out.
	wantScheduled(t, jb.execute("slow", entryOf("slow")), 20)
	eventually(t, 10*time.Second, "the hanging tenant's calls to fill the lent slots", func() bool {
		var n int
		hanging.configure(func(r *receiver) { n = r.inFlight })
		return n >= slots-slots*share/100
	})

	wantScheduled(t, jb.execute("fast", entryOf("fast")), 10)
	eventually(t, 10*time.Second, "every update of the other tenant to be delivered", func() bool {
		return healthy.delivered() == 10
	})
	hanging.configure(func(r *receiver) {
		if r.maxInFlight > slots-slots*share/100 {
			t.Errorf("the hanging tenant had %d calls in flight at once, more than the %d slots it may be lent", r.maxInFlight, slots-slots*share/100)
		}
	})
	if n := hanging.delivered(); n != 0 {
		t.Errorf("the hanging receiver took %d updates", n)
	}
}
