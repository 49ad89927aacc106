package delivery_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/push"
)

// scheduledOf is scheduled with event ids of the tenant's own, so several tenants' deliveries can be queued.
func scheduledOf(tenantID string, passCount int) []eventstore.Event {
	events := scheduled(tenantID, passCount, 1)
	for i := range events {
		events[i].ID = tenantID + "-" + events[i].ID
	}
	return events
}

// The fair claim's two parts: the tenants with due deliveries nobody holds, and a claim that takes at most each
// tenant's quota, a tenant's oldest first, whatever backlog another tenant has.
func TestClaimTenants_takesAtMostEachTenantsQuota(t *testing.T) {
	q := newQueue(t, sqldbtest.New(t))
	ctx := context.Background()
	enqueue(t, q, scheduledOf("big", 300))
	enqueue(t, q, scheduledOf("small", 5))
	enqueue(t, q, scheduledOf("idle", 3))

	due, err := q.DueTenants(ctx)
	if err != nil || !slices.Equal(due, []string{"big", "idle", "small"}) {
		t.Fatalf("due tenants %v (%v), want big, idle, small", due, err)
	}
	claimed, err := q.ClaimTenants(ctx, []push.TenantQuota{{TenantID: "big", Limit: 2}, {TenantID: "small", Limit: 10}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range claimed {
		got = append(got, d.Update.EventID)
	}
	slices.Sort(got)
	want := []string{"big-ev-0000-00", "big-ev-0001-00", "small-ev-0000-00", "small-ev-0001-00", "small-ev-0002-00",
		"small-ev-0003-00", "small-ev-0004-00"}
	if !slices.Equal(got, want) {
		t.Errorf("claimed %v, want %v", got, want)
	}

	// small's deliveries are all held now: it has nothing due.
	due, err = q.DueTenants(ctx)
	if err != nil || !slices.Equal(due, []string{"big", "idle"}) {
		t.Errorf("due tenants %v (%v), want big and idle", due, err)
	}
	if again, err := q.ClaimTenants(ctx, []push.TenantQuota{{TenantID: "small", Limit: 10}}, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("a second claim of small took %d (%v), want none: they are leased", len(again), err)
	}
}
