package credentials

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ClientsConfig tunes a Clients cache. Zero fields take the defaults.
type ClientsConfig struct {
	// MaxAge is how long a client is handed out before its credential's revision is read again: how long a
	// credential changed or deleted through another instance (or the CLI beside `serve`) may still be used here.
	MaxAge time.Duration
}

// DefaultMaxAge is the tenants cache's TTL (adapters/tenants/cache.go): a changed credential takes effect on
// every instance within it.
const DefaultMaxAge = 2 * time.Second

func (c *ClientsConfig) setDefaults() {
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
}

// Validate reports a config the cache cannot run with.
func (c ClientsConfig) Validate() error {
	if c.MaxAge <= 0 {
		return fmt.Errorf("max age %s must be positive", c.MaxAge)
	}
	return nil
}

// Clients keeps one long-lived client per credential of one kind (an HTTP/2 connection to APNs, an OAuth token
// source), so a channel does not build one per push. A client lives as long as its credential: it is built on
// first use, handed out again until the credential's revision changes, and then rebuilt; when the credential is
// deleted, Get returns ErrNotFound. A client that is replaced or dropped is closed if it has a Close() error or a
// CloseIdleConnections() method. A caller may still be using it then, so closing must not break a request in
// flight (http.Client.CloseIdleConnections doesn't). A client in use is checked again shortly before it expires,
// in the background.
type Clients[C any] struct {
	store  *Store
	kind   string
	build  func(Credential) (C, error)
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex // guards entries and every entry's fields
	entries map[clientKey]*clientEntry[C]
}

type clientKey struct{ tenantID, name string }

// clientEntry is the state of one credential's client. An entry stays in the map once made, even when its
// credential is missing, so concurrent Gets always meet on the same one.
type clientEntry[C any] struct {
	// turn is held by the one Get that reads the store and builds, so concurrent Gets of a key build once.
	turn chan struct{}

	built      bool // client holds a client built from revision
	client     C
	revision   int64
	err        error     // why there is no client: ErrNotFound, or the build's error
	checkAfter time.Time // when the store is read again; the zero time before the first read
}

// NewClients returns a cache of the clients build makes from the credentials of kind in store.
func NewClients[C any](store *Store, kind string, build func(Credential) (C, error), cfg ClientsConfig) (*Clients[C], error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid %s clients config: %w", kind, err)
	}
	if store == nil || kind == "" || build == nil {
		return nil, errors.New("new clients: store, kind and build are required")
	}
	return &Clients[C]{store: store, kind: kind, build: build, maxAge: cfg.MaxAge, now: time.Now,
		entries: map[clientKey]*clientEntry[C]{}}, nil
}

// Get returns the client of the tenant's credential name, building it if there is none or its credential has
// changed. It returns an error wrapping ErrNotFound when the credential is not stored.
func (c *Clients[C]) Get(ctx context.Context, tenantID, name string) (C, error) {
	key := clientKey{tenantID: tenantID, name: name}
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &clientEntry[C]{turn: make(chan struct{}, 1)}
		c.entries[key] = e
	}
	client, fresh, err := c.fresh(e)
	ahead := fresh && c.dueAhead(e)
	c.mu.Unlock()
	if ahead {
		c.refreshAhead(key, e)
	}
	if fresh {
		return client, err
	}

	select {
	case e.turn <- struct{}{}:
	case <-ctx.Done():
		var zero C
		return zero, ctx.Err()
	}
	defer func() { <-e.turn }()
	// Another Get may have read the store while this one waited for its turn.
	c.mu.Lock()
	client, fresh, err = c.fresh(e)
	c.mu.Unlock()
	if fresh {
		return client, err
	}
	return c.refresh(ctx, key, e)
}

// fresh returns the entry's client or error if they were read from the store less than MaxAge ago. c.mu is held.
func (c *Clients[C]) fresh(e *clientEntry[C]) (C, bool, error) {
	if e.checkAfter.IsZero() || !c.now().Before(e.checkAfter) {
		var zero C
		return zero, false, nil
	}
	return e.client, true, e.err
}

// refreshTimeout bounds a refresh ahead of expiry, which no caller waits for.
const refreshTimeout = 10 * time.Second

// dueAhead reports whether a fresh entry, in use, is in its last quarter of MaxAge (refreshAhead in presence.go):
// then it is checked again in the background, so the calls of a busy tenant never all wait for the store when it
// expires, as every split call did each MaxAge, the split asking on every call whether the tenant has Google
// settings. That holds for an entry without a client too (not found, a failed build). c.mu is held.
func (c *Clients[C]) dueAhead(e *clientEntry[C]) bool {
	return !c.now().Before(e.checkAfter.Add(-refreshAhead(c.maxAge)))
}

// refreshAhead checks the entry again in a goroutine of its own, unless a Get is already doing so.
func (c *Clients[C]) refreshAhead(key clientKey, e *clientEntry[C]) {
	select {
	case e.turn <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-e.turn }()
		c.mu.Lock()
		due := c.dueAhead(e)
		c.mu.Unlock()
		if !due { // another Get refreshed it meanwhile
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		// An error is not cached: the entry's client is handed out until it expires, and a Get then tries again.
		_, _ = c.refresh(ctx, key, e)
	}()
}

// refresh reads the credential's revision and rebuilds the client if it changed. The caller holds e's turn.
func (c *Clients[C]) refresh(ctx context.Context, key clientKey, e *clientEntry[C]) (C, error) {
	var zero C
	revision, err := c.store.revision(ctx, key.tenantID, c.kind, key.name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return zero, err // the database's error is not cached: the next Get tries again
	}
	c.mu.Lock()
	if err == nil && e.built && revision == e.revision {
		e.checkAfter = c.now().Add(c.maxAge)
		client := e.client
		c.mu.Unlock()
		return client, nil
	}
	c.mu.Unlock()

	var cred Credential
	if err == nil {
		cred, err = c.store.Get(ctx, key.tenantID, c.kind, key.name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return zero, err
		}
	}
	var client C
	if err == nil {
		if client, err = c.build(cred); err != nil {
			client = zero
			err = fmt.Errorf("build a %s client from credential %s of tenant %s: %w", c.kind, key.name, key.tenantID, err)
		}
	}

	c.mu.Lock()
	old, hadOld := e.client, e.built
	e.built, e.client, e.revision, e.err = err == nil, client, cred.Revision, err
	e.checkAfter = c.now().Add(c.maxAge)
	c.mu.Unlock()
	if hadOld {
		closeClient(old)
	}
	return client, err
}

// Close closes every client and empties the cache. Call it once no Get runs any more, at shutdown.
func (c *Clients[C]) Close() {
	c.mu.Lock()
	entries := c.entries
	c.entries = map[clientKey]*clientEntry[C]{}
	c.mu.Unlock()
	for _, e := range entries {
		// Wait for a Get building this entry's client, so that client is closed too.
		e.turn <- struct{}{}
		c.mu.Lock()
		old, hadOld := e.client, e.built
		var zero C
		e.built, e.client, e.checkAfter = false, zero, time.Time{}
		c.mu.Unlock()
		<-e.turn
		if hadOld {
			closeClient(old)
		}
	}
}

// closeClient releases what a client holds, if it says how.
func closeClient(client any) {
	switch cl := client.(type) {
	case io.Closer:
		_ = cl.Close()
	case interface{ CloseIdleConnections() }:
		cl.CloseIdleConnections()
	}
}
