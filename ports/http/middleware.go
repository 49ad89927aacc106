package httpport

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// The middleware around every request, outermost first: withMetrics and limitInFlight around the whole router
// (NewServer), then withRequestID, withRecovery, withSafeHeaders and refuseNUL on every route, and the
// credential, tenant and body limit of each route's subrouter.

type ctxKey int

const (
	logKey ctxKey = iota
	tenantKey
)

// requestIDPattern accepts a caller's X-Request-Id only if it is harmless in a log line.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID gives each request a correlation id (the caller's X-Request-Id if it is sane), a logger that
// carries it, and one access log line. It never logs headers or bodies: they hold tokens and secrets.
func (s server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, done := r.Context().Value(logKey).(*logrus.Entry); done {
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		log := s.log.WithField("request_id", id)
		ctx := correlation.WithID(context.WithValue(r.Context(), logKey, log), id)
		w.Header().Set("X-Request-Id", id)
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(ctx))
		// The fields are built only when the line is written: at thousands of calls a second, a map per call that
		// the level then drops was a measurable share of execute's CPU.
		if log.Logger.IsLevelEnabled(logrus.DebugLevel) {
			log.WithFields(logrus.Fields{
				"method": r.Method, "path": r.URL.Path, "status": rec.code, "duration_ms": time.Since(start).Milliseconds(),
			}).Debug("request")
		}
	})
}

func requestLog(r *http.Request, fallback *logrus.Entry) *logrus.Entry {
	if log, ok := r.Context().Value(logKey).(*logrus.Entry); ok {
		return log
	}
	return fallback
}

// withRecovery turns a panic into a 503 and a log line with the stack, so one bad request never takes the
// process down.
func (s server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				requestLog(r, s.log).WithField("panic", p).Error("handler panicked")
				s.respondError(w, r, &httperr.Error{Status: http.StatusServiceUnavailable, Code: "internal_error", Message: "the request could not be handled; retry later"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireAdmin checks the bearer token in constant time. Hashing both sides first makes the comparison's time
// independent of the token's length too.
func (s server) requireAdmin(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.config.AdminToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.config.AdminToken == "" {
			s.respondError(w, r, httperr.Unauthorized("the management API is disabled: PASSPUSH_ADMIN_TOKEN is not set"))
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			if _, isKey := tenant.LooksLikeAPIKey(strings.TrimSpace(token)); isKey {
				s.logRefusedCredential(r, strings.TrimSpace(token), "API key on an admin route")
			}
			s.respondError(w, r, httperr.Unauthorized("missing or wrong admin token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireTenant answers 404 unknown_tenant for a tenant that does not exist or is disabled, and hands the
// tenant to the handler.
func (s server) requireTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["tenantId"]
		if tenant.ValidateID(id) != nil {
			s.respondError(w, r, tenant.ErrNotFound)
			return
		}
		t, err := s.app.Queries.ActiveTenant.Handle(r.Context(), id)
		if err != nil {
			s.respondError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey, t)))
	})
}

func tenantFrom(r *http.Request) tenant.Tenant {
	t, _ := r.Context().Value(tenantKey).(tenant.Tenant)
	return t
}

// limitBody caps the request body; reading past it fails with *http.MaxBytesError, which answers 413.
func (s server) limitBody(limit int64) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				s.respondError(w, r, &http.MaxBytesError{Limit: limit})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// withSafeHeaders makes every answer no-store and nosniff: the API's answers are per tenant and often carry
// what a shared cache or a browser's disk must not keep, and none is meant to be sniffed into HTML. A handler
// that may be cached says so itself, over the default (the configuration page's files, config.json).
func (s server) withSafeHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// refuseNUL answers 400 to a query string with a NUL character: PostgreSQL cannot even compare such text, and
// no real client sends it.
func (s server) refuseNUL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, values := range r.URL.Query() {
			for _, v := range values {
				if strings.ContainsRune(v, 0) {
					s.respondError(w, r, httperr.BadRequest("query parameters must not contain a NUL character"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

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

// RequestMetrics records each request answered: metrics.Metrics.
type RequestMetrics interface {
	ObserveRequest(route, method string, code int, d time.Duration)
}

// unmatchedRoute is the route label of a request no route took (404, 405, or refused before routing): a raw path
// would make a series per path, which anyone could grow without bound.
const unmatchedRoute = "unmatched"

// routeKey is the context key of the route a request is served by, filled in by recordRoute once mux matched one.
type routeKey struct{}

// recordRoute notes the matched route's template where withMetrics will read it after the request.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route, ok := r.Context().Value(routeKey{}).(*string); ok {
			if current := mux.CurrentRoute(r); current != nil {
				if template, err := current.GetPathTemplate(); err == nil {
					*route = template
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withMetrics records each request with its route template, method and status code. It wraps the limit on
// requests in flight, so that the requests it refuses are counted too (as unmatched: it refuses before routing).
func (s server) withMetrics(next http.Handler) http.Handler {
	return &metricsHandler{next: next, metrics: s.config.Metrics}
}

type metricsHandler struct {
	next    http.Handler
	metrics RequestMetrics
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	route := unmatchedRoute
	rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
	h.next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
	h.metrics.ObserveRequest(route, methodLabel(r.Method), rec.code, time.Since(start))
}

// Unwrap returns the handler the metrics wrap, as inFlightLimit's does.
func (h *metricsHandler) Unwrap() http.Handler { return h.next }

// methodLabel bounds the method label to the methods HTTP defines: a client may send any token as a method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// codeRecorder keeps the status code a handler answered with.
type codeRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *codeRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer (flushes of a long poll, deadlines).
func (r *codeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
