package group_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/group"
)

// recorder is a run function that records its runs and can be held, so requests queue behind it.
type recorder struct {
	mu      sync.Mutex
	runs    [][]int
	active  atomic.Int32
	overlap atomic.Bool
	peak    atomic.Int32
	hold    chan struct{}
	started chan struct{}
	fail    error
}

func newRecorder() *recorder {
	return &recorder{hold: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (r *recorder) run(ctx context.Context, reqs []int) ([]int, error) {
	active := r.active.Add(1)
	if active > 1 {
		r.overlap.Store(true)
	}
	for peak := r.peak.Load(); active > peak && !r.peak.CompareAndSwap(peak, active); peak = r.peak.Load() {
	}
	defer r.active.Add(-1)
	r.started <- struct{}{}
	<-r.hold
	r.mu.Lock()
	r.runs = append(r.runs, slices.Clone(reqs))
	r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	out := make([]int, len(reqs))
	for i, n := range reqs {
		out[i] = n * 10
	}
	return out, nil
}

func newBatcher(t *testing.T, r *recorder, config group.Config) *group.Batcher[int, int] {
	t.Helper()
	b, err := group.NewBatcher(config, r.run)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBatcher_requestsThatArriveDuringARunShareTheNextInOrder: one run at a time; what queues meanwhile goes in
// the next runs, at most MaxRun each, in arrival order; every caller gets its own result.
func TestBatcher_requestsThatArriveDuringARunShareTheNextInOrder(t *testing.T) {
	r := newRecorder()
	b := newBatcher(t, r, group.Config{MaxRun: 10, Timeout: time.Second})
	results := make(chan [2]int, 100)
	do := func(n int) {
		res, err := b.Do(context.Background(), n)
		if err != nil {
			t.Error(err)
		}
		results <- [2]int{n, res}
	}
	go do(0)
	<-r.started // the first run holds request 0
	for n := 1; n <= 25; n++ {
		go do(n)
		// Arrival order is the order the requests are queued in.
		waitQueued(t, b, n)
	}
	close(r.hold)
	for range 26 {
		got := <-results
		if got[1] != got[0]*10 {
			t.Errorf("request %d got %d, want %d", got[0], got[1], got[0]*10)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	want := [][]int{{0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {21, 22, 23, 24, 25}}
	if !slices.EqualFunc(r.runs, want, slices.Equal) {
		t.Errorf("runs %v, want %v", r.runs, want)
	}
	if r.overlap.Load() {
		t.Error("two runs overlapped")
	}
}

// TestBatcher_runsUpToMaxInFlightAtOnce: while a run is held, the next request starts a second run at once; later
// requests queue for the next free run, and no more than MaxInFlight runs are in flight together.
func TestBatcher_runsUpToMaxInFlightAtOnce(t *testing.T) {
	r := newRecorder()
	b := newBatcher(t, r, group.Config{MaxRun: 10, Timeout: time.Second, MaxInFlight: 2})
	errs := make(chan error, 10)
	do := func(n int) {
		_, err := b.Do(context.Background(), n)
		errs <- err
	}
	go do(0)
	<-r.started
	go do(1)
	select {
	case <-r.started:
	case <-time.After(5 * time.Second):
		t.Fatal("a request that arrived during a run did not start a second run")
	}
	for n := 2; n <= 5; n++ {
		go do(n)
		waitQueued(t, b, n-1)
	}
	select {
	case <-r.started:
		t.Error("a third run started while two were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(r.hold)
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var ran []int
	for _, run := range r.runs {
		ran = append(ran, run...)
	}
	slices.Sort(ran)
	if !slices.Equal(ran, []int{0, 1, 2, 3, 4, 5}) {
		t.Errorf("requests run %v, want each of 0-5 once", ran)
	}
	if peak := r.peak.Load(); peak != 2 {
		t.Errorf("at most %d runs were in flight together, want 2", peak)
	}
}

// waitQueued waits until n requests wait behind the running one.
func waitQueued(t *testing.T, b *group.Batcher[int, int], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", b.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcher_aFailedRunFailsEachOfItsRequests(t *testing.T) {
	r := newRecorder()
	r.fail = errors.New("database down")
	close(r.hold)
	b := newBatcher(t, r, group.Config{MaxRun: 10, Timeout: time.Second})
	var wg sync.WaitGroup
	for n := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Do(context.Background(), n); !errors.Is(err, r.fail) {
				t.Errorf("request %d: err = %v, want the run's error", n, err)
			}
		}()
	}
	wg.Wait()
}

func TestBatcher_aRunWithTheWrongNumberOfResultsIsAnError(t *testing.T) {
	b, err := group.NewBatcher(group.Config{MaxRun: 10, Timeout: time.Second}, func(ctx context.Context, reqs []int) ([]int, error) {
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(context.Background(), 1); err == nil {
		t.Error("a run that returned no result for a request answered it without an error")
	}
}

// TestBatcher_lingersForMinRunRequests: a lone request waits the linger out; MinRun requests start at once.
func TestBatcher_lingersForMinRunRequests(t *testing.T) {
	const linger = 300 * time.Millisecond
	r := newRecorder()
	close(r.hold)
	b := newBatcher(t, r, group.Config{MaxRun: 10, Timeout: time.Second, Linger: linger, MinRun: 3})

	start := time.Now()
	if _, err := b.Do(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < linger*9/10 {
		t.Errorf("a lone request ran after %s, want it to linger %s for company", waited, linger)
	}

	start = time.Now()
	var wg sync.WaitGroup
	for n := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Do(context.Background(), n); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if waited := time.Since(start); waited > linger/2 {
		t.Errorf("%d requests, the minimum run, ran after %s, want at once", 3, waited)
	}
}

func TestBatcher_aCallerStopsWaitingWhenItsContextEnds(t *testing.T) {
	r := newRecorder()
	defer close(r.hold)
	b := newBatcher(t, r, group.Config{MaxRun: 10, Timeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Do(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
}

func TestNewBatcher_refusesABadConfig(t *testing.T) {
	run := func(ctx context.Context, reqs []int) ([]int, error) { return reqs, nil }
	for _, c := range []group.Config{
		{MaxRun: 0, Timeout: time.Second},
		{MaxRun: 1, Timeout: 0},
		{MaxRun: 1, Timeout: time.Second, Linger: -1},
		{MaxRun: 1, Timeout: time.Second, MinRun: 2},
	} {
		if _, err := group.NewBatcher(c, run); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := group.NewBatcher[int, int](group.Config{MaxRun: 1, Timeout: time.Second}, nil); err == nil {
		t.Error("a nil run function accepted")
	}
}
