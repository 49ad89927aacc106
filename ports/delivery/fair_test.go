package delivery_test

import (
	"reflect"
	"testing"

	"github.com/passpush/passpush/app/push"
	deliverystage "github.com/passpush/passpush/ports/delivery"
)

func TestQuotas_aTenantGetsItsShareWhileOthersHaveWorkAndAloneIsLentTheRestButOneShare(t *testing.T) {
	q := func(tenantID string, limit int) push.TenantQuota {
		return push.TenantQuota{TenantID: tenantID, Limit: limit}
	}
	cases := []struct {
		name       string
		held       map[string]int
		due        []string
		free, most int
		want       []push.TenantQuota
	}{
		{"a tenant alone is lent all slots but one share", nil, []string{"a"}, 8, 500, []push.TenantQuota{q("a", 6)}},
		{"and no more", map[string]int{"a": 6}, []string{"a"}, 2, 500, nil},
		{"the share left free goes to a tenant that comes due", map[string]int{"a": 6}, []string{"a", "b"}, 2, 500, []push.TenantQuota{q("b", 2)}},
		{"nothing is lent while two tenants have work", nil, []string{"a", "b"}, 8, 500, []push.TenantQuota{q("a", 2), q("b", 2)}},
		{"a tenant at its share gets nothing while another has work", map[string]int{"a": 2, "b": 1}, []string{"a", "b"}, 5, 500, []push.TenantQuota{q("b", 1)}},
		{"the fewest held go first when slots are short", map[string]int{"a": 1}, []string{"a", "b"}, 1, 500, []push.TenantQuota{q("b", 1)}},
		{"a claim takes at most most", nil, []string{"a"}, 8, 4, []push.TenantQuota{q("a", 4)}},
		{"no due tenant, no claim", nil, nil, 8, 500, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := deliverystage.Quotas(25, c.held, c.due, c.free, 8, c.most)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("quotas = %v, want %v", got, c.want)
			}
		})
	}
}

// TestClaim_waitsAPollIntervalOnlyOnceItTookEverythingDue: while updates come due one by one (held back for their
// Google turns), a claim that took all that was due was followed at once by one that found nothing. The worker
// waits after a claim that drained the due tenants, and claims again at once after one that a quota cut short.
func TestClaim_waitsAPollIntervalOnlyOnceItTookEverythingDue(t *testing.T) {
	cases := []struct {
		name        string
		share       int
		backlog     map[string]int
		free        int
		wantTaken   int
		wantDrained bool
	}{
		{"one due of each tenant", 25, map[string]int{"a": 1, "b": 1}, 512, 2, true},
		{"a tenant left out of the claim", 25, map[string]int{"a": 1, "b": 1}, 100, 1, false},
		{"a tenant's share cut its claim short", 25, map[string]int{"a": 200, "b": 1}, 512, 129, false},
		{"fewer slots free than due", 25, map[string]int{"a": 3}, 2, 2, false},
		{"nothing due", 25, map[string]int{}, 100, 0, true},
		{"without fairness, all that was due", 100, map[string]int{"a": 3}, 100, 3, true},
		{"without fairness, as many as were free", 100, map[string]int{"a": 3}, 3, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			taken, drained := deliverystage.ClaimDrains(c.share, c.backlog, c.free, 512)
			if taken != c.wantTaken {
				t.Errorf("claimed %d deliveries, want %d", taken, c.wantTaken)
			}
			if drained != c.wantDrained {
				t.Errorf("drained = %v, want %v", drained, c.wantDrained)
			}
		})
	}
}
