package google

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/sqldb"
	"golang.org/x/time/rate"
)

// MaxBurst is the most calls a tenant's limiter lets through at once, on all instances together: an update's two
// calls (the patch and its message). In any sliding second a tenant's calls are then at most its rate plus
// MaxBurst, plus the calls of turns taken late (lateTurn), which is what Google's per-second quota sees.
const MaxBurst = 2

// lateTurn is how late after its time a held turn may still be taken. A retry that comes back later than that
// (the claim's poll, a busy flush) reserves a new turn instead: its calls would otherwise land on top of the turns
// reserved after it, and a sliding second could see more than the rate allows. With MaxBurst, a second sees at
// most rate × 1.15 + 2 calls: 25 at 20/s, the quota's headroom. 100 ms wasted more turns than it saved calls:
// bench/google held 18.4-19.0 calls/s against 19.7 with 150 ms, and no 429 with either.
const lateTurn = 150 * time.Millisecond

// A tenant's rate holds on all instances together because each instance takes an equal share of it: the
// tenant's rate divided by the number of instances calling the Wallet API, which they count through the database
// (google_callers). The share is a local golang.org/x/time/rate limiter, so a call waits for nothing but its own
// turn: a limit shared through the database would cost a write on one hot row per call, at 20 calls a second per
// tenant, and would make every call wait on the database. The price of dividing is that an instance with little
// work leaves its share unused, and that for a moment after an instance joins (callerRefresh) the others still use
// the larger share.
const (
	// callerRefresh is how often an instance that calls the API says so and counts the others.
	callerRefresh = time.Second
	// callerTTL is how long an instance counts after it last called: one that stopped, or died, drops out then.
	callerTTL = 10 * time.Second
)

// callers counts the instances calling the Wallet API: each that has called in the last callerTTL.
type callers struct {
	db  *sqldb.DB
	id  string
	now func() time.Time

	refreshing atomic.Bool
	mu         sync.Mutex // guards count and refreshedAt
	count      int
	refreshed  time.Time
}

func newCallers(db *sqldb.DB) *callers {
	return &callers{db: db, id: uuid.NewString(), now: time.Now, count: 1}
}

// Count returns how many instances call the API, this one among them. Every callerRefresh one caller records
// this instance's call and counts again, within ctx; the others meanwhile use the last count. When the database
// can't be read the last count stands.
func (c *callers) Count(ctx context.Context) int {
	c.mu.Lock()
	count, stale := c.count, c.now().Sub(c.refreshed) >= callerRefresh
	c.mu.Unlock()
	if !stale || !c.refreshing.CompareAndSwap(false, true) {
		return count
	}
	defer c.refreshing.Store(false)
	n, err := c.refresh(ctx)
	if err != nil {
		return count
	}
	c.mu.Lock()
	c.count, c.refreshed = n, c.now()
	c.mu.Unlock()
	return n
}

func (c *callers) refresh(ctx context.Context) (int, error) {
	now := c.now()
	if _, err := c.db.ExecContext(ctx, `INSERT INTO google_callers (instance_id, seen_at) VALUES ($1, $2)
		ON CONFLICT (instance_id) DO UPDATE SET seen_at = excluded.seen_at`, c.id, now.UnixMicro()); err != nil {
		return 0, fmt.Errorf("record this instance as a google caller: %w", err)
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM google_callers WHERE seen_at < $1`,
		now.Add(-10*callerTTL).UnixMicro()); err != nil {
		return 0, fmt.Errorf("forget google callers: %w", err)
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM google_callers WHERE seen_at >= $1`,
		now.Add(-callerTTL).UnixMicro()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count google callers: %w", err)
	}
	return max(n, 1), nil
}

// limiter holds one tenant's calls on this instance to its share of the tenant's rate.
type limiter struct {
	rate    float64
	callers *callers
	mu      sync.Mutex // guards shares, held and swept
	shares  int
	limiter *rate.Limiter
	held    map[string]turn
	swept   time.Time
}

func newLimiter(perSecond float64, callers *callers) *limiter {
	return &limiter{rate: perSecond, callers: callers, shares: 1, limiter: rate.NewLimiter(rate.Limit(perSecond), MaxBurst),
		held: map[string]turn{}}
}

// turn is the reservations of an update's calls, held for a delivery whose turn came too late to wait for: its
// retry takes it.
type turn struct {
	reservations []*rate.Reservation
	at           time.Time
}

// share sets this instance's share of the tenant's rate when count instances call the API. l.mu is held.
func (l *limiter) share(now time.Time, count int) {
	if count == l.shares {
		return
	}
	l.shares = count
	l.limiter.SetLimitAt(now, rate.Limit(l.rate/float64(count)))
	// The instances' bursts add up too.
	l.limiter.SetBurstAt(now, max(1, MaxBurst/count))
}

// Hold is Take's answer without its turn: for an update whose turn is more than maxWait away it reserves that
// turn, keeps it for key's retry and returns how long until it comes; for one whose turn is within maxWait it
// reserves nothing and returns 0, and Take gets the turn. The delivery stage asks it before it reads anything for
// the push, so that the updates queued behind the rate limit cost it no reads. mayReserve is asked, without the
// lock, before a new turn is reserved: an update the channel would not push must not take a turn from those it
// would.
func (l *limiter) Hold(ctx context.Context, key string, n int, maxWait time.Duration, mayReserve func() bool) (time.Duration, error) {
	count := l.callers.Count(ctx)
	l.mu.Lock()
	now := l.now()
	l.share(now, count)
	if held, ok := l.held[key]; ok {
		if now.Sub(held.at) <= lateTurn {
			l.mu.Unlock()
			return waitOver(held.at.Sub(now), maxWait), nil
		}
		// Too late: Take would reserve a new turn, and so does Hold.
		delete(l.held, key)
	}
	next := l.nextTurn(now, n)
	l.mu.Unlock()
	if next <= maxWait || !mayReserve() {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.now()
	held, ok := l.reserveTurn(now, n)
	if !ok {
		return 0, fmt.Errorf("google rate limit: %d calls cannot be reserved", n)
	}
	wait := held.at.Sub(now)
	if wait <= maxWait {
		// The queue drained meanwhile: Take reserves the turn when it comes.
		held.cancel(now)
		return 0, nil
	}
	l.held[key] = held
	return wait, nil
}

// waitOver is wait when it is more than maxWait, 0 otherwise.
func waitOver(wait, maxWait time.Duration) time.Duration {
	if wait > maxWait {
		return wait
	}
	return 0
}

// now is the time the limiter's calls pass to golang.org/x/time/rate, read with l.mu held so that those times
// never go backwards. A time read before the lock, older than one another goroutine has already passed, moves the
// rate limiter's last update back, and its next call counts the time between the two twice: tokens that were
// never earned, and a burst of calls above the tenant's rate (TestChannel_theLimiterHoldsTheTenantsRate failed so
// on a loaded machine: 35 calls at 20/s in 1.61 s). l.mu is held.
func (l *limiter) now() time.Time { return time.Now() }

// nextTurn is how long from now until n calls could go out, reserving nothing. l.mu is held.
func (l *limiter) nextTurn(now time.Time, n int) time.Duration {
	missing := float64(n) - l.limiter.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(l.limiter.Limit()) * float64(time.Second))
}

// reserveTurn reserves n calls from now, as one reservation while n fits the burst. An instance's share of the
// burst can be smaller than an update's calls (several instances divide it): the rest are reserved after it, and
// the turn is the last one's, so every call has its token and none goes early. l.mu is held.
func (l *limiter) reserveTurn(now time.Time, n int) (turn, bool) {
	t := turn{at: now}
	for n > 0 {
		k := min(n, l.limiter.Burst())
		r := l.limiter.ReserveN(now, k)
		if !r.OK() {
			t.cancel(now)
			return turn{}, false
		}
		t.reservations = append(t.reservations, r)
		if at := now.Add(r.DelayFrom(now)); at.After(t.at) {
			t.at = at
		}
		n -= k
	}
	return t, true
}

// cancel gives back what the turn's reservations have not yet used.
func (t turn) cancel(now time.Time) {
	for _, r := range t.reservations {
		r.CancelAt(now)
	}
}

// Take gets n calls' turn for key (an update): it waits for the turn when it comes within maxWait, and returns
// 0. A later turn is reserved for key, and Take returns how long until it comes, so the caller can come back then
// instead of holding a delivery slot; the retry with the same key takes that turn. Reserving both of an update's
// calls at once keeps the second from missing the attempt's deadline after the first was made.
func (l *limiter) Take(ctx context.Context, key string, n int, maxWait time.Duration) (after time.Duration, err error) {
	count := l.callers.Count(ctx)
	l.mu.Lock()
	now := l.now()
	l.share(now, count)
	held, ok := l.held[key]
	delete(l.held, key)
	l.forgetStale(now)
	if ok && now.Sub(held.at) > lateTurn {
		// Too late: its tokens are spent (cancelling a past reservation gives nothing back), and a new turn
		// keeps this update's calls from bunching with the next ones.
		ok = false
	}
	if !ok {
		if held, ok = l.reserveTurn(now, n); !ok {
			l.mu.Unlock()
			return 0, fmt.Errorf("google rate limit: %d calls cannot be reserved", n)
		}
	}
	wait := held.at.Sub(now)
	if wait > maxWait {
		l.held[key] = held
		l.mu.Unlock()
		return wait, nil
	}
	l.mu.Unlock()
	if wait <= 0 {
		return 0, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return 0, nil
	case <-ctx.Done():
		l.mu.Lock()
		held.cancel(l.now())
		l.mu.Unlock()
		return 0, fmt.Errorf("google rate limit: %w", ctx.Err())
	}
}

// TryTake gets one call's turn when it comes within maxWait, and waits for it; otherwise it takes nothing and
// returns false at once. Unlike Take it holds no turn for a retry: the install state's refresh (the split) has a
// last known state to fall back on, and a held turn would delay the pushes behind it.
func (l *limiter) TryTake(ctx context.Context, maxWait time.Duration) bool {
	count := l.callers.Count(ctx)
	l.mu.Lock()
	now := l.now()
	l.share(now, count)
	r := l.limiter.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if !r.OK() || wait > maxWait {
		r.CancelAt(now)
		l.mu.Unlock()
		return false
	}
	l.mu.Unlock()
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		r.Cancel()
		return false
	}
}

// staleTurn is how long after its time a held turn waits for its retry: one that another instance took, or that
// was delivered otherwise, is then given up.
const staleTurn = time.Minute

// forgetStale drops the turns whose retry never came. l.mu is held.
func (l *limiter) forgetStale(now time.Time) {
	if now.Sub(l.swept) < staleTurn {
		return
	}
	l.swept = now
	for key, t := range l.held {
		if now.Sub(t.at) > staleTurn {
			delete(l.held, key)
		}
	}
}
