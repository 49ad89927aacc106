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
