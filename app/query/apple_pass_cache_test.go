package query

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestApplePassCache_keepsTheMostRecentlyUsed(t *testing.T) {
	c := newApplePassCache(2, 1<<20)
	k := func(revision int) applePassKey {
		return applePassKey{tenantID: "acme", passID: "p-1", revision: revision}
	}
	c.passes.Add(k(1), []byte("1"))
	c.passes.Add(k(2), []byte("2"))
	if _, ok := c.passes.Get(k(1)); !ok { // 1 is now the most recently used
		t.Fatal("revision 1 is not kept")
	}
	c.passes.Add(k(3), []byte("3"))
	if _, ok := c.passes.Get(k(2)); ok {
		t.Error("revision 2, the least recently used, is still kept past the bound")
	}
	for _, r := range []int{1, 3} {
		if b, ok := c.passes.Get(k(r)); !ok || string(b) != string(rune('0'+r)) {
			t.Errorf("revision %d: %q, %v", r, b, ok)
		}
	}
	if c.passes.Len() != 2 {
		t.Errorf("len = %d, want 2", c.passes.Len())
	}
	if _, ok := c.passes.Get(applePassKey{tenantID: "acme", passID: "p-1", revision: 3, templateVersion: 2}); ok {
		t.Error("another template version hits the cache")
	}
}

// TestApplePassCache_keepsNoMoreBytesThanItsBound: a pass is about as large as its template's images, so the
// cache is bounded by bytes as well as by passes: past the bytes, the least recently used go, and a pass larger
// than the whole bound is not kept at all.
func TestApplePassCache_keepsNoMoreBytesThanItsBound(t *testing.T) {
	c := newApplePassCache(100, 1000)
	k := func(revision int) applePassKey {
		return applePassKey{tenantID: "acme", passID: "p-1", revision: revision}
	}
	build := func(revision, size int) {
		t.Helper()
		if _, err := c.build(context.Background(), k(revision), func() ([]byte, error) { return make([]byte, size), nil }); err != nil {
			t.Fatal(err)
		}
	}
	build(1, 400)
	build(2, 400)
	if _, ok := c.passes.Get(k(1)); !ok { // 1 is now the most recently used
		t.Fatal("revision 1 is not kept")
	}
	build(3, 400) // 1,200 bytes: 2 goes
	if _, ok := c.passes.Get(k(2)); ok {
		t.Error("revision 2, the least recently used, is still kept past the bytes bound")
	}
	if c.passes.Len() != 2 || c.bytes != 800 {
		t.Errorf("%d passes of %d bytes kept, want 2 of 800", c.passes.Len(), c.bytes)
	}
	build(4, 1001)
	if _, ok := c.passes.Get(k(4)); ok {
		t.Error("a pass larger than the bound is kept")
	}
	if c.passes.Len() != 2 || c.bytes != 800 {
		t.Errorf("after a pass too large: %d passes of %d bytes kept, want the same 2 of 800", c.passes.Len(), c.bytes)
	}
	build(5, 1000) // the whole bound: every other pass goes
	if c.passes.Len() != 1 || c.bytes != 1000 {
		t.Errorf("%d passes of %d bytes kept, want only the last, of 1000", c.passes.Len(), c.bytes)
	}
}

func TestApplePassCache_buildsAPassAskedForAtOnceOnce(t *testing.T) {
	c := newApplePassCache(8, 1<<20)
	k := applePassKey{tenantID: "acme", passID: "p-1", revision: 2}
	release := make(chan struct{})
	var signs atomic.Int32
	sign := func() ([]byte, error) {
		signs.Add(1)
		<-release // the other callers ask while this build is in flight
		return []byte("pkpass"), nil
	}
	var wg sync.WaitGroup
	got := make([][]byte, 20)
	for i := range got {
		wg.Go(func() {
			b, err := c.build(context.Background(), k, sign)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	for signs.Load() == 0 {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond) // let the others reach the build in flight; they must not start their own
	close(release)
	wg.Wait()
	if n := signs.Load(); n != 1 {
		t.Errorf("signed %d times, want once", n)
	}
	for i, b := range got {
		if string(b) != "pkpass" {
			t.Errorf("caller %d got %q", i, b)
		}
	}
}

func TestApplePassCache_keepsNoFailedBuild(t *testing.T) {
	c := newApplePassCache(8, 1<<20)
	k := applePassKey{tenantID: "acme", passID: "p-1", revision: 2}
	if _, err := c.build(context.Background(), k, func() ([]byte, error) { return nil, errors.New("no key") }); err == nil {
		t.Fatal("the build's error is lost")
	}
	b, err := c.build(context.Background(), k, func() ([]byte, error) { return []byte("pkpass"), nil })
	if err != nil || string(b) != "pkpass" {
		t.Fatalf("after a failed build: %q, %v", b, err)
	}
	if b, ok := c.passes.Get(k); !ok || string(b) != "pkpass" {
		t.Errorf("the second build is not kept: %q, %v", b, ok)
	}
}
