package sizedlru_test

import (
	"testing"

	"github.com/passpush/passpush/internal/sizedlru"
)

func newCache(t *testing.T, maxEntries, maxBytes int) *sizedlru.Cache[int, []byte] {
	t.Helper()
	c, err := sizedlru.New[int](maxEntries, maxBytes, func(b []byte) int { return len(b) })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCache_dropsTheLeastRecentlyUsedPastTheEntries(t *testing.T) {
	c := newCache(t, 2, 1<<20)
	c.Add(1, []byte("1"))
	c.Add(2, []byte("2"))
	if _, ok := c.Get(1); !ok { // 1 is now the most recently used
		t.Fatal("1 is not kept")
	}
	c.Add(3, []byte("3"))
	if _, ok := c.Get(2); ok {
		t.Error("2, the least recently used, is still kept past the bound")
	}
	for _, k := range []int{1, 3} {
		if b, ok := c.Get(k); !ok || string(b) != string(rune('0'+k)) {
			t.Errorf("%d: %q, %v", k, b, ok)
		}
	}
	if c.Len() != 2 || c.Bytes() != 2 {
		t.Errorf("%d entries of %d bytes, want 2 of 2", c.Len(), c.Bytes())
	}
}

// TestCache_keepsNoMoreBytesThanItsBound: past the bytes, the least recently used go; a value larger than the
// whole bound is not kept at all; a value replaced counts once.
func TestCache_keepsNoMoreBytesThanItsBound(t *testing.T) {
	c := newCache(t, 100, 1000)
	c.Add(1, make([]byte, 400))
	c.Add(2, make([]byte, 400))
	if _, ok := c.Get(1); !ok {
		t.Fatal("1 is not kept")
	}
	c.Add(3, make([]byte, 400)) // 1,200 bytes: 2 goes
	if _, ok := c.Get(2); ok {
		t.Error("2, the least recently used, is still kept past the bytes bound")
	}
	if c.Len() != 2 || c.Bytes() != 800 {
		t.Errorf("%d entries of %d bytes, want 2 of 800", c.Len(), c.Bytes())
	}
	c.Add(4, make([]byte, 1001))
	if _, ok := c.Get(4); ok {
		t.Error("a value larger than the bound is kept")
	}
	c.Add(3, make([]byte, 100)) // replaced: 400 + 100
	if c.Len() != 2 || c.Bytes() != 500 {
		t.Errorf("after a replacement: %d entries of %d bytes, want 2 of 500", c.Len(), c.Bytes())
	}
	c.Add(5, make([]byte, 1000)) // the whole bound: every other entry goes
	if c.Len() != 1 || c.Bytes() != 1000 {
		t.Errorf("%d entries of %d bytes kept, want only the last, of 1000", c.Len(), c.Bytes())
	}
}
