package credentials

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Presence tells whether tenants have any credential of one kind, from a cache, so that a channel the tenant has
// not set up costs a delivery no query. An answer is read again after MaxAge, as the clients' are: a credential
// added or removed takes effect on every instance within it.
type Presence struct {
	// list is store.List; tests count its reads.
	list   func(ctx context.Context, tenantID, kind string) ([]Credential, error)
	kind   string
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	answers map[string]presenceAnswer
	// reading is the read in flight per tenant: the deliveries in flight when an answer expires (hundreds at
	// once) wait for one read instead of each making it. They made about one read per four pushes.
	reading map[string]*presenceRead
}

type presenceAnswer struct {
	has     bool
	expires time.Time
}

// presenceRead is a read in flight; done is closed once has and err are set.
type presenceRead struct {
	done chan struct{}
	has  bool
	err  error
}

// NewPresence returns the presence of store's credentials of kind.
func NewPresence(store *Store, kind string, cfg ClientsConfig) (*Presence, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid %s presence config: %w", kind, err)
	}
	if store == nil || kind == "" {
		return nil, fmt.Errorf("new presence: store and kind are required")
	}
	return &Presence{list: store.List, kind: kind, maxAge: cfg.MaxAge, now: time.Now, answers: map[string]presenceAnswer{},
		reading: map[string]*presenceRead{}}, nil
}

// Has reports whether the tenant has a credential of the kind.
func (p *Presence) Has(ctx context.Context, tenantID string) (bool, error) {
	for {
		p.mu.Lock()
		a, ok := p.answers[tenantID]
		if ok && p.now().Before(a.expires) {
			p.mu.Unlock()
			return a.has, nil
		}
		r, inFlight := p.reading[tenantID]
		if !inFlight {
			r = &presenceRead{done: make(chan struct{})}
			p.reading[tenantID] = r
			p.mu.Unlock()
			return p.read(ctx, tenantID, r)
		}
		p.mu.Unlock()
		select {
		case <-r.done:
			if r.err == nil {
				return r.has, nil
			}
			// The reader's error may be its own cancelled context: each waiter then tries for itself.
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// read reads the tenant's answer for the callers waiting on r, and keeps it for MaxAge.
func (p *Presence) read(ctx context.Context, tenantID string, r *presenceRead) (bool, error) {
	now := p.now()
	list, err := p.list(ctx, tenantID, p.kind)
	if err != nil {
		r.err = fmt.Errorf("%s credentials of tenant %s: %w", p.kind, tenantID, err)
	}
	r.has = len(list) > 0
	p.mu.Lock()
	if err == nil {
		p.answers[tenantID] = presenceAnswer{has: r.has, expires: now.Add(p.maxAge)}
	}
	delete(p.reading, tenantID)
	p.mu.Unlock()
	close(r.done)
	return r.has, r.err
}
