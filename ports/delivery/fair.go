package delivery

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/passpush/passpush/app/push"
)

// Fairness across tenants. A tenant whose webhook hangs holds each slot it gets for a whole attempt timeout, and
// one that fails holds its slots through every retry; claimed oldest first, a tenant with a large backlog would
// take every slot. So the worker counts the deliveries each tenant holds, and each claim asks for the tenants
// with due deliveries and takes from each at most what its share leaves it:
//
//   - A tenant's share is TenantShare percent of the slots (at least one). While other tenants have deliveries
//     due, a tenant that holds its share gets no more.
//   - A tenant whose deliveries are the only ones due is lent the slots beyond its share, so it has the stage to
//     itself (work-conserving) — except one share's worth, which stays free: a tenant whose deliveries come due
//     next starts its share at once, instead of waiting for a hanging tenant's attempts to time out, which would
//     then hold every slot. A tenant alone thus has all slots but one share (384 of 512 by default); a fast
//     receiver needs far fewer for the stage's throughput. Lent slots are not taken back: once another tenant
//     has work, the one that holds more than its share gets nothing more until it is back under it.
//   - While several tenants have deliveries due, nothing is lent, as the share is the most a tenant may hold
//     then; slots the due tenants' shares leave free stay free until a tenant comes due alone.
//
// Counting per tenant in the worker, and claiming each tenant's part in one statement (Queue.ClaimTenants),
// rather than excluding the saturated tenants from one claim ordered across tenants: that claim would scan a
// saturated tenant's whole due backlog at each call to reach anyone else's. The list of tenants with due
// deliveries costs one index step per tenant (Queue.DueTenants) and is reused for a poll interval.
//
// The shares are of one instance's slots: each instance is fair on its own, and so is their sum.

// maxClaimTenants bounds the tenants one claim takes from; the next claim serves the others first.
const maxClaimTenants = 64

// tenantSlots counts the slots each tenant's deliveries hold.
type tenantSlots struct {
	share int // percent
	mu    sync.Mutex
	held  map[string]int
}

func newTenantSlots(share int) *tenantSlots {
	return &tenantSlots{share: share, held: map[string]int{}}
}

func (s *tenantSlots) take(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[tenantID]++
}

func (s *tenantSlots) give(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[tenantID]--; s.held[tenantID] <= 0 {
		delete(s.held, tenantID)
	}
}

// shareOf is how many of limit slots one tenant may hold while others have work.
func (s *tenantSlots) shareOf(limit int) int {
	return max(1, limit*s.share/100)
}

// quotas says how many deliveries of each due tenant a claim may take when free of limit slots are free and at
// most most are to be claimed. Tenants that hold fewer slots come first; a tenant that may take none is left out.
func (s *tenantSlots) quotas(due []string, free, limit, most int) []push.TenantQuota {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(due) == 0 || free <= 0 {
		return nil
	}
	share := s.shareOf(limit)
	due = slices.Clone(due)
	slices.SortFunc(due, func(a, b string) int { return cmp.Or(cmp.Compare(s.held[a], s.held[b]), cmp.Compare(a, b)) })

	// What each tenant's share leaves it; a tenant alone is lent the free slots beyond that and beyond one share.
	want := make([]int, len(due))
	wanted := 0
	for i, t := range due {
		want[i] = max(0, share-s.held[t])
		wanted += want[i]
	}
	if lend := free - wanted - share; len(due) == 1 && lend > 0 {
		want[0] += lend
	}

	// Hand out at most min(free, most), to the tenants that hold the fewest first, and to at most
	// maxClaimTenants of them: one claim statement has a part per tenant.
	budget := min(free, most)
	var quotas []push.TenantQuota
	for i, t := range due {
		if budget == 0 || len(quotas) == maxClaimTenants {
			break
		}
		if n := min(want[i], budget); n > 0 {
			quotas = append(quotas, push.TenantQuota{TenantID: t, Limit: n})
			budget -= n
		}
	}
	return quotas
}

// maxClaim bounds one claim's rows.
const maxClaim = 500

// claimer makes the worker's claims: fair ones, or with TenantShare 100 the plain claim of the oldest due
// deliveries, as before fairness.
type claimer struct {
	w       *Worker
	tenants *tenantSlots
	// due is the last list of tenants with due deliveries, listed at dueAt.
	due   []string
	dueAt time.Time
}

func (w *Worker) newClaimer() *claimer {
	return &claimer{w: w, tenants: newTenantSlots(w.config.TenantShare)}
}

// claim leases up to free due deliveries when limit slots may be in flight.
func (c *claimer) claim(ctx context.Context, free, limit int) ([]push.Delivery, error) {
	if c.tenants.shareOf(limit) >= limit {
		return c.w.queue.Claim(ctx, min(free, maxClaim), c.w.config.Lease)
	}
	if now := time.Now(); now.Sub(c.dueAt) >= c.w.config.PollInterval {
		due, err := c.w.queue.DueTenants(ctx)
		if err != nil {
			return nil, err
		}
		c.due, c.dueAt = due, now
	}
	items, err := c.w.queue.ClaimTenants(ctx, c.tenants.quotas(c.due, free, limit, maxClaim), c.w.config.Lease)
	if len(items) == 0 {
		// Nothing to claim from the tenants listed: list them afresh next time, as work may have come due.
		c.dueAt = time.Time{}
	}
	return items, err
}
