package delivery

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/passpush/passpush/app/push"
)

// WithDefaults returns c with its zero fields set to the defaults.
func WithDefaults(c Config) Config {
	c.setDefaults()
	return c
}

// Quotas is what a claim may take of each due tenant when the tenants hold held, with share percent each.
func Quotas(share int, held map[string]int, due []string, free, limit, most int) []push.TenantQuota {
	s := newTenantSlots(share)
	for t, n := range held {
		for range n {
			s.take(t)
		}
	}
	return s.quotas(due, free, limit, most)
}

// dueQueue is a queue with due deliveries of some tenants, as many as backlog says of each.
type dueQueue struct {
	Queue
	backlog map[string]int
}

func (q dueQueue) DueTenants(context.Context) ([]string, error) {
	return slices.Sorted(maps.Keys(q.backlog)), nil
}

func (q dueQueue) ClaimTenants(_ context.Context, quotas []push.TenantQuota, _ time.Duration) ([]push.Delivery, error) {
	var out []push.Delivery
	for _, quota := range quotas {
		for range min(quota.Limit, q.backlog[quota.TenantID]) {
			out = append(out, push.Delivery{Update: push.Update{TenantID: quota.TenantID}})
		}
	}
	return out, nil
}

func (q dueQueue) Claim(_ context.Context, limit int, _ time.Duration) ([]push.Delivery, error) {
	var out []push.Delivery
	for _, t := range slices.Sorted(maps.Keys(q.backlog)) {
		for range min(q.backlog[t], limit-len(out)) {
			out = append(out, push.Delivery{Update: push.Update{TenantID: t}})
		}
	}
	return out, nil
}

// ClaimDrains makes one fair claim of free of limit slots, with share percent per tenant, from tenants with
// backlog due deliveries each, and returns how many it took and whether the worker may wait before the next.
func ClaimDrains(share int, backlog map[string]int, free, limit int) (int, bool) {
	w := &Worker{queue: dueQueue{backlog: backlog}, config: WithDefaults(Config{TenantShare: share})}
	c := w.newClaimer()
	items, _ := c.claim(context.Background(), free, limit)
	return len(items), c.drained
}
