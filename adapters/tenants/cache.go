package tenants

import (
	"context"
	"errors"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/passpush/passpush/domain/tenant"
	"golang.org/x/sync/singleflight"
)

const (
	// NegativeTTL is how long a lookup of an unknown tenant id is remembered.
	NegativeTTL = 60 * time.Second
	// NegativeCacheSize bounds the unknown ids remembered. A flood of random ids evicts only other unknown ids:
	// the known tenants are kept apart.
	NegativeCacheSize = 10_000
	// lookupTimeout bounds a lookup that callers share: it runs without any one caller's context, so that a
	// caller that gives up does not fail the others.
	lookupTimeout = 10 * time.Second
)

// Source is what the cache reads through: the Store.
type Source interface {
	Get(ctx context.Context, id string) (tenant.Tenant, error)
	List(ctx context.Context) ([]tenant.Tenant, error)
	Count(ctx context.Context) (int, error)
}

// Cache keeps tenants read from a Store for a short time, because every request on a tenant route looks its
// tenant up. TTL bounds how long a change made by another process (the CLI beside `serve`) takes to apply.
//
// Unknown ids are remembered apart, in an LRU, for NegativeTTL, so that random ids in URLs don't each cost a
// query and can't push the known tenants out. A tenant created by another process after its id was looked up
// still shows within TTL: each negative entry carries the number of tenants seen before its lookup, and while
// negative entries are being used that number is read again once per TTL (one query, whatever the number of
// ids); an entry from before a change is not believed. Tenants are never deleted, so a new number means a new
// tenant. A change committed in this process forgets the id at once (Forget).
//
// Concurrent lookups of an id the cache does not hold share one query (singleflight): when a busy tenant's entry
// expires, every call in flight missed it at once, and each ran its own query and opened the tenant's sealed
// secrets, once per TTL (the split's 64 concurrent calls made about 30 queries each time, and waited on them).
type Cache struct {
	store Source
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	known map[string]cacheEntry
	// unknown holds the ids that were not found. The LRU is the library's; the expiry is kept in the entry so
	// that the cache's clock, which tests move by hand, decides it. (The library's expirable LRU reads
	// time.Now itself and starts a goroutine per cache that never ends.)
	unknown *lru.Cache[string, negativeEntry]
	// tenants is the number of tenants, read at checked; -1 before the first read.
	tenants int
	checked time.Time
	// lookups shares the store's Get of an id among concurrent callers.
	lookups singleflight.Group
	// counts shares the store's Count among concurrent callers: before the first count every call counts, and a
	// start under load (a journey's burst at a restart) had each of its 64 concurrent calls run one, each on a
	// connection of its own that the pool had to open.
	counts singleflight.Group
	// forgets counts Forget's calls: a lookup that began before one may have read the tenant before the change,
	// so what it read is answered but not kept.
	forgets uint64
}

type cacheEntry struct {
	tenant  tenant.Tenant
	expires time.Time
	// refreshAt is when a Get starts reading the tenant again, in the background, before expires.
	refreshAt time.Time
}

// refreshAhead is how long before its expiry an entry in use is read again: much longer than a read takes, so
// that the new entry is in before the old one expires.
func refreshAhead(ttl time.Duration) time.Duration { return ttl / 4 }

// negativeEntry is an id that was not found while there were tenants tenants.
type negativeEntry struct {
	expires time.Time
	tenants int
}

// NewCache caches store's tenants for ttl.
func NewCache(store Source, ttl time.Duration) *Cache {
	unknown, err := lru.New[string, negativeEntry](NegativeCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Cache{store: store, ttl: ttl, now: time.Now, known: map[string]cacheEntry{}, unknown: unknown, tenants: -1}
}

// Get returns the tenant as Store.Get does, from the cache when it is fresh. Errors of the database are not
// cached.
func (c *Cache) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	now := c.now()
	c.mu.Lock()
	if e, ok := c.known[id]; ok && now.Before(e.expires) {
		tenants := c.tenants
		c.mu.Unlock()
		if !now.Before(e.refreshAt) {
			// Read it again ahead of its expiry, without waiting: a busy tenant's entry then never expires under
			// the calls, which would all wait for the read (every TTL, for each of the split's calls in flight).
			// What is answered is never older than TTL, as before.
			c.lookups.DoChan(id, func() (any, error) { return c.lookUp(ctx, id, now, tenants) })
		}
		return e.tenant, nil
	}
	negative, isNegative := c.unknown.Get(id)
	isNegative = isNegative && now.Before(negative.expires)
	// The number of tenants is read before the first lookup, so that every negative entry has one from before
	// its lookup, and again when a negative entry would answer and the number is older than TTL. checked is
	// set before the query, so that a flood of lookups makes one query per TTL, not one each.
	count := c.tenants < 0 || (isNegative && now.Sub(c.checked) >= c.ttl)
	if count {
		c.checked = now
	}
	tenants := c.tenants
	c.mu.Unlock()

	if count {
		n, err := c.count(ctx)
		if err != nil {
			return tenant.Tenant{}, err
		}
		tenants = n
	}
	if isNegative && negative.tenants == tenants {
		return tenant.Tenant{}, tenant.ErrNotFound
	}

	ch := c.lookups.DoChan(id, func() (any, error) { return c.lookUp(ctx, id, now, tenants) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return tenant.Tenant{}, r.Err
		}
		return r.Val.(tenant.Tenant), nil
	case <-ctx.Done():
		return tenant.Tenant{}, ctx.Err()
	}
}

// count reads the number of tenants, in one query for the callers that ask at once, and keeps it.
func (c *Cache) count(ctx context.Context) (int, error) {
	ch := c.counts.DoChan("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		n, err := c.store.Count(ctx)
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		c.tenants = n
		c.mu.Unlock()
		return n, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return 0, r.Err
		}
		return r.Val.(int), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// lookUp reads the tenant from the store and keeps the answer, found or not, for the callers that share it.
func (c *Cache) lookUp(ctx context.Context, id string, now time.Time, tenants int) (tenant.Tenant, error) {
	c.mu.Lock()
	forgets := c.forgets
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
	defer cancel()
	t, err := c.store.Get(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		if c.forgets == forgets {
			c.unknown.Add(id, negativeEntry{expires: now.Add(NegativeTTL), tenants: tenants})
		}
		return tenant.Tenant{}, err
	case err != nil:
		return tenant.Tenant{}, err
	}
	if c.forgets == forgets {
		c.known[id] = cacheEntry{tenant: t, expires: now.Add(c.ttl), refreshAt: now.Add(c.ttl - refreshAhead(c.ttl))}
	}
	return t, nil
}

// List is never cached: it is an admin call.
func (c *Cache) List(ctx context.Context) ([]tenant.Tenant, error) { return c.store.List(ctx) }

// Forget drops the cached copy of a tenant, or that it was unknown, so that this process sees its own change at
// once: the change log calls it once a tenant's change has committed.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.known, id)
	c.unknown.Remove(id)
	c.forgets++
	c.mu.Unlock()
	// A lookup in flight may have read the tenant before the change: later callers start their own.
	c.lookups.Forget(id)
}
