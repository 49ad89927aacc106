package httpport

import (
	"net/http"
	"sync"
	"time"

	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// DefaultMaxInFlight is how many requests an instance serves at once unless configured otherwise.
const DefaultMaxInFlight = 1024

// limitInFlight caps the requests being served at once. Past the cap a request is answered 503 overloaded with
// Retry-After at once, before any work, rather than queued: a flood then costs the instance a refusal each, its
// database connections and memory stay with the requests it took, and Journey Builder, which retries a 5xx, or a
// load balancer sends the call again or elsewhere.
//
// It wraps the whole router, not mux's Use, so that unknown routes count too. /healthz is exempt: it touches
// nothing but the process, and a load balancer that saw 503 there would take a busy but healthy instance out of
// rotation, moving its load onto the others and overloading them in turn. /readyz and /metrics are exempt for the
// same reason, and because a busy instance is when its metrics matter most.
//
// A buffered channel is the semaphore: a non-blocking send takes a slot, a receive gives it back. That is all
// a library semaphore would do here.
func (s server) limitInFlight(next http.Handler) http.Handler {
	return &inFlightLimit{
		next: next, log: s.log,
		slots:    make(chan struct{}, s.config.MaxInFlight),
		refusals: newRefusalLog(s.log, s.config.MaxInFlight),
	}
}

// inFlightLimit is the handler limitInFlight returns.
type inFlightLimit struct {
	next     http.Handler
	log      *logrus.Entry
	slots    chan struct{}
	refusals *refusalLog
}

func (l *inFlightLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if exemptFromInFlightLimit(r.URL.Path) {
		l.next.ServeHTTP(w, r)
		return
	}
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
		l.next.ServeHTTP(w, r)
	default:
		l.refusals.add()
		httperr.Respond(w, r, l.log, httperr.Overloaded(
			"the server has as many requests in flight as it takes (PASSPUSH_MAX_IN_FLIGHT); retry later"))
	}
}

func exemptFromInFlightLimit(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// Unwrap returns the router the limit wraps, as http.ResponseController's Unwrap convention does for writers:
// for a caller that walks the routes.
func (l *inFlightLimit) Unwrap() http.Handler { return l.next }

// refusalLog logs refusals at most once a second, with how many there were, so an overload does not also flood
// the log.
type refusalLog struct {
	log   *logrus.Entry
	limit int
	mu    sync.Mutex
	count int
	last  time.Time
}

func newRefusalLog(log *logrus.Entry, limit int) *refusalLog {
	return &refusalLog{log: log, limit: limit}
}

func (l *refusalLog) add() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if now := time.Now(); now.Sub(l.last) >= time.Second {
		l.log.WithFields(logrus.Fields{"refused": l.count, "max_in_flight": l.limit}).
			Warn("requests refused: too many in flight")
		l.count, l.last = 0, now
	}
}
