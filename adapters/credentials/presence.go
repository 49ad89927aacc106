package credentials

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Presence tells whether tenants have any credential of one kind, from a cache, so that a channel the tenant has
// not set up costs a delivery no query. An answer is read again after MaxAge, as the clients' are: a credential
// added or removed takes effect on every instance within it.
//
// Concurrent misses of one tenant share one read (singleflight): when a busy tenant's answer expired, every call
// in flight missed it at once, and the split's 64 concurrent calls each ran the query, once per MaxAge.
type Presence struct {
	store  lister
	kind   string
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	answers map[string]presenceAnswer
	reads   singleflight.Group
}

// lister is what Presence reads: the Store.
type lister interface {
	List(ctx context.Context, tenantID, kind string) ([]Credential, error)
}

// presenceReadTimeout bounds a read that callers share: it runs without any one caller's context, so that a
// caller that gives up does not fail the others.
const presenceReadTimeout = 10 * time.Second

type presenceAnswer struct {
	has     bool
	expires time.Time
	// refreshAt is when a Has starts reading the answer again, in the background, before expires.
	refreshAt time.Time
}

// refreshAhead is how long before its expiry an answer in use is read again: much longer than a read takes, so
// that the new answer is in before the old one expires.
func refreshAhead(maxAge time.Duration) time.Duration { return maxAge / 4 }

// NewPresence returns the presence of store's credentials of kind.
func NewPresence(store *Store, kind string, cfg ClientsConfig) (*Presence, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid %s presence config: %w", kind, err)
	}
	if store == nil || kind == "" {
		return nil, fmt.Errorf("new presence: store and kind are required")
	}
	return &Presence{store: store, kind: kind, maxAge: cfg.MaxAge, now: time.Now, answers: map[string]presenceAnswer{}}, nil
}

// Has reports whether the tenant has a credential of the kind.
func (p *Presence) Has(ctx context.Context, tenantID string) (bool, error) {
	now := p.now()
	p.mu.Lock()
	a, ok := p.answers[tenantID]
	p.mu.Unlock()
	if ok && now.Before(a.expires) {
		if !now.Before(a.refreshAt) {
			// Read it again ahead of its expiry, without waiting: a busy tenant's answer then never expires under
			// the calls, which would all wait for the read. What is answered is never older than MaxAge, as before.
			p.read(ctx, tenantID, now)
		}
		return a.has, nil
	}
	ch := p.read(ctx, tenantID, now)
	select {
	case r := <-ch:
		if r.Err != nil {
			return false, r.Err
		}
		return r.Val.(bool), nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// read reads the tenant's answer, once for the callers that ask at once, and keeps it as of now.
func (p *Presence) read(ctx context.Context, tenantID string, now time.Time) <-chan singleflight.Result {
	return p.reads.DoChan(tenantID, func() (any, error) {
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceReadTimeout)
		defer cancel()
		list, err := p.store.List(readCtx, tenantID, p.kind)
		if err != nil {
			return false, fmt.Errorf("%s credentials of tenant %s: %w", p.kind, tenantID, err)
		}
		p.mu.Lock()
		p.answers[tenantID] = presenceAnswer{has: len(list) > 0, expires: now.Add(p.maxAge), refreshAt: now.Add(p.maxAge - refreshAhead(p.maxAge))}
		p.mu.Unlock()
		return len(list) > 0, nil
	})
}
