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

// TestApplePassCache_keepsEachVersionApart: a pass is kept per everything it was built from, so another revision
// or template version of the same pass is built again. (Which passes are kept is internal/sizedlru's test.)
func TestApplePassCache_keepsEachVersionApart(t *testing.T) {
	c := newApplePassCache(8, 1<<20)
	k := applePassKey{tenantID: "acme", passID: "p-1", revision: 3}
	if _, err := c.build(context.Background(), k, func() ([]byte, error) { return []byte("r3"), nil }); err != nil {
		t.Fatal(err)
	}
	for _, other := range []applePassKey{
		{tenantID: "acme", passID: "p-1", revision: 3, templateVersion: 2},
		{tenantID: "acme", passID: "p-1", revision: 4},
		{tenantID: "acme", passID: "p-1", revision: 3, certificate: "renewed"},
	} {
		if _, ok := c.passes.Get(other); ok {
			t.Errorf("%+v hits the cache of %+v", other, k)
		}
	}
	if b, ok := c.passes.Get(k); !ok || string(b) != "r3" {
		t.Errorf("the pass built is not kept: %q, %v", b, ok)
	}
}

// TestApplePassCache_isBoundedByBytes: the service's cache keeps at most ApplePassCacheBytes of passes.
func TestApplePassCache_isBoundedByBytes(t *testing.T) {
	c := newApplePassCache(ApplePassCacheSize, ApplePassCacheBytes)
	pass := make([]byte, 1<<20)
	for revision := range 2 * ApplePassCacheBytes >> 20 {
		if _, err := c.build(context.Background(), applePassKey{tenantID: "acme", passID: "p-1", revision: revision},
			func() ([]byte, error) { return pass, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.passes.Bytes(); got > ApplePassCacheBytes {
		t.Errorf("%d bytes of passes kept, more than the %d bound", got, ApplePassCacheBytes)
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
