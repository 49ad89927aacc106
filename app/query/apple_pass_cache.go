package query

import (
	"container/list"
	"context"
	"sync"
)

// applePassKey names one signed pass: everything it was built from. The passType is there because a pass whose
// type changed takes another template at the same template version.
type applePassKey struct {
	tenantID, passID, passType string
	revision, templateVersion  int
	certificate                string
}

// applePassCache is a least-recently-used cache of signed passes, bounded by their number. A pass that several
// callers ask for at once is built once: the devices woken by one push fetch the same version together.
type applePassCache struct {
	mu       sync.Mutex
	max      int
	order    *list.List // front: most recently used; values are *applePassEntry
	entries  map[applePassKey]*list.Element
	building map[applePassKey]*applePassBuild
}

// applePassBuild is a build in flight; done is closed when pkpass or err is set.
type applePassBuild struct {
	done   chan struct{}
	pkpass []byte
	err    error
}

type applePassEntry struct {
	key    applePassKey
	pkpass []byte
}

func newApplePassCache(max int) *applePassCache {
	return &applePassCache{max: max, order: list.New(), entries: make(map[applePassKey]*list.Element, max),
		building: map[applePassKey]*applePassBuild{}}
}

// build returns the cached pass, or the pass that sign builds and the cache keeps. Callers that ask for a key
// being built wait for that build (or for their ctx). A build that fails is not kept, and its error is not
// shared: it may be its caller's cancelled context, so each waiter then tries for itself.
func (c *applePassCache) build(ctx context.Context, k applePassKey, sign func() ([]byte, error)) ([]byte, error) {
	for {
		c.mu.Lock()
		if e, ok := c.entries[k]; ok {
			c.order.MoveToFront(e)
			c.mu.Unlock()
			return e.Value.(*applePassEntry).pkpass, nil
		}
		inFlight, ok := c.building[k]
		if !ok {
			break // c.mu is held
		}
		c.mu.Unlock()
		select {
		case <-inFlight.done:
			if inFlight.err == nil {
				return inFlight.pkpass, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := &applePassBuild{done: make(chan struct{})}
	c.building[k] = b
	c.mu.Unlock()

	b.pkpass, b.err = sign()
	if b.err == nil {
		c.put(k, b.pkpass)
	}
	c.mu.Lock()
	delete(c.building, k)
	c.mu.Unlock()
	close(b.done)
	return b.pkpass, b.err
}

// get returns the cached pass; its bytes are shared and never modified.
func (c *applePassCache) get(k applePassKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*applePassEntry).pkpass, true
}

// put keeps a pass, and drops the least recently used one past the bound. An older revision of a pass is never
// asked for again, so it ages out.
func (c *applePassCache) put(k applePassKey, pkpass []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.entries[k] = c.order.PushFront(&applePassEntry{key: k, pkpass: pkpass})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*applePassEntry).key)
	}
}

// len is the number of passes kept.
func (c *applePassCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
