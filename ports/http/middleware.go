package httpport

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

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
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(ctx))
		log.WithFields(logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "status": rec.status, "duration_ms": time.Since(start).Milliseconds(),
		}).Debug("request")
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
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
