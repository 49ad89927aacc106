package query

import (
	"context"
	"sync"

	"github.com/passpush/passpush/internal/sizedlru"
)

// applePassKey names one signed pass: everything it was built from. The passType is there because a pass whose
// type changed takes another template at the same template version.
type applePassKey struct {
	tenantID, passID, passType string
	revision, templateVersion  int
	certificate                string
}

// applePassCache keeps signed passes, the least recently used dropped past a bound on their number or on their
// bytes, whichever comes first: an older revision of a pass is never asked for again, so it ages out. A pass is
// about as large as its template's images, so a bound on the number alone let a template of large images fill
// the memory (4,096 passes of 300 KB are 1.2 GB). A pass that several callers ask for at once is built once: the
// devices woken by one push fetch the same version together.
//
// The builds in flight are kept here rather than in golang.org/x/sync/singleflight, because a failed build's
// error is not shared: it may be its caller's cancelled context, so each waiter then tries for itself.
type applePassCache struct {
	passes *sizedlru.Cache[applePassKey, []byte] // the bytes are shared and never modified

	mu       sync.Mutex
	building map[applePassKey]*applePassBuild
}

// applePassBuild is a build in flight; done is closed when pkpass or err is set.
type applePassBuild struct {
	done   chan struct{}
	pkpass []byte
	err    error
}

func newApplePassCache(maxPasses, maxBytes int) *applePassCache {
	passes, err := sizedlru.New[applePassKey](maxPasses, maxBytes, func(pkpass []byte) int { return len(pkpass) })
	if err != nil {
		panic(err) // only for bounds below 1
	}
	return &applePassCache{passes: passes, building: map[applePassKey]*applePassBuild{}}
}

// build returns the cached pass, or the pass that sign builds and the cache keeps. Callers that ask for a key
// being built wait for that build (or for their ctx). A build that fails is not kept.
func (c *applePassCache) build(ctx context.Context, k applePassKey, sign func() ([]byte, error)) ([]byte, error) {
	for {
		if pkpass, ok := c.passes.Get(k); ok {
			return pkpass, nil
		}
		c.mu.Lock()
		// Again under mu: a build may have ended since the look above, and a build adds its pass under mu.
		if pkpass, ok := c.passes.Get(k); ok {
			c.mu.Unlock()
			return pkpass, nil
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
	c.mu.Lock()
	if b.err == nil {
		c.passes.Add(k, b.pkpass)
	}
	delete(c.building, k)
	c.mu.Unlock()
	close(b.done)
	return b.pkpass, b.err
}
