package query

import (
	"container/list"
	"sync"
)

// applePassKey names one signed pass: everything it was built from. The passType is there because a pass whose
// type changed takes another template at the same template version.
type applePassKey struct {
	tenantID, passID, passType string
	revision, templateVersion  int
	certificate                string
}

// applePassCache is a least-recently-used cache of signed passes, bounded by their number.
type applePassCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // front: most recently used; values are *applePassEntry
	entries map[applePassKey]*list.Element
}

type applePassEntry struct {
	key    applePassKey
	pkpass []byte
}

func newApplePassCache(max int) *applePassCache {
	return &applePassCache{max: max, order: list.New(), entries: make(map[applePassKey]*list.Element, max)}
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
