// Package sizedlru is a least-recently-used cache bounded both by the number of its entries and by their total
// size, for values whose size varies by orders of magnitude (a signed pass, a pass template: a few kilobytes or
// megabytes). hashicorp/golang-lru bounds the number alone; this wraps its simplelru, and counts the bytes in its
// eviction callback.
package sizedlru

import (
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Cache is safe for concurrent use.
type Cache[K comparable, V any] struct {
	size     func(V) int
	maxBytes int

	mu    sync.Mutex // simplelru is not safe for concurrent use; its callback runs under mu
	lru   *simplelru.LRU[K, V]
	bytes int
}

// New returns a cache of at most maxEntries entries and maxBytes bytes, an entry's bytes being size(value).
func New[K comparable, V any](maxEntries, maxBytes int, size func(V) int) (*Cache[K, V], error) {
	if maxBytes < 1 || size == nil {
		return nil, fmt.Errorf("new sized LRU: maxBytes %d must be positive and size set", maxBytes)
	}
	c := &Cache[K, V]{size: size, maxBytes: maxBytes}
	lru, err := simplelru.NewLRU(maxEntries, func(_ K, v V) { c.bytes -= size(v) })
	if err != nil {
		return nil, fmt.Errorf("new sized LRU: %w", err)
	}
	c.lru = lru
	return c, nil
}

// Get returns the value of k, which becomes the most recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(k)
}

// Add keeps v under k as the most recently used, and drops the least recently used entries past either bound. A
// value larger than the whole bytes bound is not kept.
func (c *Cache[K, V]) Add(k K, v V) {
	n := c.size(v)
	if n > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(k); ok {
		c.bytes -= c.size(old) // simplelru replaces a value without calling back
	}
	c.lru.Add(k, v)
	c.bytes += n
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// Len is the number of entries kept.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the size of the entries kept.
func (c *Cache[K, V]) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
