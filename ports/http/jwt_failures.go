package httpport

import (
	"sync"
	"time"
)

// The limit on failed JWT verifications: after JWTFailureLimit failures in JWTFailureWindow for one tenant, the
// calls of that tenant that fail verification get 429 for JWTFailureBlock. Verification comes first, so Journey
// Builder's own calls, which verify, are never refused by it: an attacker guessing signatures can slow down only
// the guessing. The count is per process.
const (
	JWTFailureLimit  = 100
	JWTFailureWindow = 10 * time.Second
	JWTFailureBlock  = 10 * time.Second
	// jwtFailureLogEvery is the security log's sampling: at most one line per tenant per second.
	jwtFailureLogEvery = time.Second
)

// jwtFailures counts the failed JWT verifications of each tenant, for the 429 limit and the sampled log.
//
// It is written by hand rather than with golang.org/x/time/rate: a token bucket refills continuously and has no
// notion of "blocked for 10 s once the threshold is crossed", which is the rule; a ring of the last
// JWTFailureLimit failure times answers "were there 100 in the last 10 s" exactly, in 2.4 KB per tenant that
// ever failed (only existing tenants get this far: unknown ones are refused before).
type jwtFailures struct {
	now func() time.Time

	mu      sync.Mutex
	tenants map[string]*tenantJWTFailures
}

type tenantJWTFailures struct {
	// recent is a ring of the last JWTFailureLimit failure times; next is where the next one goes, which is the
	// oldest once the ring is full.
	recent       []time.Time
	next         int
	blockedUntil time.Time
	// lastLogged is when the last log line was written; unlogged counts the failures since.
	lastLogged time.Time
	unlogged   int
}

func newJWTFailures(now func() time.Time) *jwtFailures {
	return &jwtFailures{now: now, tenants: map[string]*tenantJWTFailures{}}
}

// jwtFailureVerdict is what becomes of one failed verification.
type jwtFailureVerdict struct {
	// retryAfter is positive while the tenant is over the limit: the call gets 429 with it.
	retryAfter time.Duration
	// logCount is the number of failures the log line written now reports, or 0 when none is due.
	logCount int
}

// fail records a failed verification of the tenant.
func (f *jwtFailures) fail(tenantID string) jwtFailureVerdict {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tenants[tenantID]
	if t == nil {
		t = &tenantJWTFailures{recent: make([]time.Time, 0, JWTFailureLimit)}
		f.tenants[tenantID] = t
	}
	var v jwtFailureVerdict
	if now.Before(t.blockedUntil) {
		v.retryAfter = t.blockedUntil.Sub(now)
	}
	if len(t.recent) < JWTFailureLimit {
		t.recent = append(t.recent, now)
	} else {
		t.recent[t.next] = now
		t.next = (t.next + 1) % JWTFailureLimit
	}
	// The oldest of the last JWTFailureLimit failures is within the window: the limit is reached, and the
	// calls after this one are refused. A block runs its course; failures during it count towards the next.
	oldest := t.recent[t.next%len(t.recent)]
	if v.retryAfter == 0 && len(t.recent) == JWTFailureLimit && now.Sub(oldest) < JWTFailureWindow {
		t.blockedUntil = now.Add(JWTFailureBlock)
	}
	t.unlogged++
	if t.lastLogged.IsZero() || now.Sub(t.lastLogged) >= jwtFailureLogEvery {
		v.logCount, t.unlogged, t.lastLogged = t.unlogged, 0, now
	}
	return v
}
