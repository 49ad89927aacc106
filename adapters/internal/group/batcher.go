// Package group runs the requests of concurrent callers together: a database round trip for many callers costs
// about what it costs for one.
package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Batcher hands the requests that arrive while a run is in flight to the next run, together. Requests go into runs
// in the order they arrived. By default runs happen one at a time, so they also finish in that order;
// Config.MaxInFlight lets runs overlap.
//
// Hand-written because nothing in the standard library or the stack does it: singleflight merges identical calls,
// a worker pool runs calls one by one.
type Batcher[Req, Res any] struct {
	run     func(ctx context.Context, reqs []Req) ([]Res, error)
	maxRun  int
	timeout time.Duration
	linger  time.Duration
	minRun  int
	// enough is signalled when minRun requests are queued, ending a linger early.
	enough chan struct{}

	maxInFlight int

	mu    sync.Mutex
	queue []call[Req, Res]
	// running is how many runs are in flight or about to start.
	running int
}

type call[Req, Res any] struct {
	req  Req
	done chan result[Res]
}

type result[Res any] struct {
	res Res
	err error
}

// Config tunes a Batcher.
type Config struct {
	// MaxRun is the most requests one run takes; a longer queue is run in several.
	MaxRun int
	// Timeout bounds one run, so callers get an error instead of waiting on a database that does not answer.
	Timeout time.Duration
	// Linger is how long a run waits for MinRun requests to be queued before it starts with fewer. Zero starts
	// at once: then a run takes what arrived during the previous one.
	Linger time.Duration
	MinRun int
	// MaxInFlight is how many runs may be in flight at once; zero means one. With more than one, a run can start
	// while another waits on the database, so a request waits less; runs may then finish out of order, which
	// only matters to requests sent concurrently, whose order nobody knows anyway.
	MaxInFlight int
}

// Validate reports a config a Batcher cannot run with.
func (c Config) Validate() error {
	if c.MaxRun < 1 || c.Timeout <= 0 || c.Linger < 0 || c.MinRun < 0 || c.MinRun > c.MaxRun || c.MaxInFlight < 0 {
		return errors.New("a batcher needs a positive run size and timeout, a linger of zero or more, a minimum run no larger than the maximum and no negative runs in flight")
	}
	return nil
}

// NewBatcher returns a batcher that answers requests with run, which returns one result per request, in order,
// or an error for all of them.
func NewBatcher[Req, Res any](config Config, run func(ctx context.Context, reqs []Req) ([]Res, error)) (*Batcher[Req, Res], error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if run == nil {
		return nil, errors.New("a batcher needs a run function")
	}
	return &Batcher[Req, Res]{run: run, maxRun: config.MaxRun, timeout: config.Timeout, linger: config.Linger,
		minRun: config.MinRun, maxInFlight: max(config.MaxInFlight, 1), enough: make(chan struct{}, 1)}, nil
}

// Do runs req with the requests around it and returns its result. A caller whose ctx ends stops waiting; its
// request may still run.
func (b *Batcher[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	c := call[Req, Res]{req: req, done: make(chan result[Res], 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.running < b.maxInFlight
	if start {
		b.running++
	}
	if len(b.queue) == b.minRun {
		select {
		case b.enough <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	if start {
		// The runs get a goroutine of their own, so under steady load no caller keeps running others' requests.
		go b.loop()
	}
	select {
	case r := <-c.done:
		return r.res, r.err
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

func (b *Batcher[Req, Res]) loop() {
	for {
		b.wait()
		calls := b.take()
		if len(calls) == 0 {
			return
		}
		reqs := make([]Req, len(calls))
		for i, c := range calls {
			reqs[i] = c.req
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		res, err := b.run(ctx, reqs)
		cancel()
		if err == nil && len(res) != len(calls) {
			err = fmt.Errorf("a batch of %d requests got %d results", len(calls), len(res))
		}
		for i, c := range calls {
			if err != nil {
				c.done <- result[Res]{err: err}
				continue
			}
			c.done <- result[Res]{res: res[i]}
		}
	}
}

// Queued is how many requests wait for a run.
func (b *Batcher[Req, Res]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Running is how many runs are in flight or about to start.
func (b *Batcher[Req, Res]) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// wait lingers until minRun requests are queued or the linger is over.
func (b *Batcher[Req, Res]) wait() {
	if b.linger == 0 {
		return
	}
	// A signal left from a run that took its requests without waiting would end this wait early: drop it, before
	// looking at the queue, so a signal sent after the look is kept.
	select {
	case <-b.enough:
	default:
	}
	if b.Queued() >= b.minRun {
		return
	}
	timer := time.NewTimer(b.linger)
	defer timer.Stop()
	select {
	case <-b.enough:
	case <-timer.C:
	}
}

// take removes the next run's requests from the queue; with none queued it ends the loop.
func (b *Batcher[Req, Res]) take() []call[Req, Res] {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), b.maxRun)
	if n == 0 {
		b.running--
		return nil
	}
	calls := b.queue[:n:n]
	b.queue = b.queue[n:]
	return calls
}
