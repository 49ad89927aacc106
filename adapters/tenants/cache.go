package tenants

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/passpush/passpush/domain/tenant"
)

// Cache keeps tenants read from a Store for a short time, because every request on a tenant route looks its
// tenant up. TTL bounds how long a change made by another process (the CLI beside `serve`) takes to apply.
type Cache struct {
	store *Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	tenant  tenant.Tenant
	err     error
	expires time.Time
}

// NewCache caches store's tenants for ttl.
func NewCache(store *Store, ttl time.Duration) *Cache {
	return &Cache{store: store, ttl: ttl, now: time.Now, entries: map[string]cacheEntry{}}
}

// Get returns the tenant as Store.Get does, from the cache when it is fresh. Unknown tenants are cached too, so
// garbage ids do not each cost a query; errors of the database are not.
func (c *Cache) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.tenant, e.err
	}
	t, err := c.store.Get(ctx, id)
	if err != nil && !errors.Is(err, tenant.ErrNotFound) {
		return tenant.Tenant{}, err
	}
	c.mu.Lock()
	if len(c.entries) > 10000 {
		c.entries = map[string]cacheEntry{}
	}
	c.entries[id] = cacheEntry{tenant: t, err: err, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return t, err
}

// List is never cached: it is an admin call.
func (c *Cache) List(ctx context.Context) ([]tenant.Tenant, error) { return c.store.List(ctx) }

// Save stores the tenant and forgets the cached copy, so this process sees its own change at once.
func (c *Cache) Save(ctx context.Context, t tenant.Tenant) error {
	err := c.store.Save(ctx, t)
	c.mu.Lock()
	delete(c.entries, t.ID)
	c.mu.Unlock()
	return err
}

// Forget drops the cached copy of a tenant, so the next Get reads the store: for a change committed after Save
// returned, in a transaction Save joined.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
