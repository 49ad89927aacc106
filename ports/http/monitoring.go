package httpport

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// RequestMetrics records each request answered: metrics.Metrics.
type RequestMetrics interface {
	ObserveRequest(route, method string, code int, d time.Duration)
}

// Readiness runs the checks of GET /readyz: service.Service.
type Readiness interface {
	// CheckReadiness returns each check's result, "ok" or why not.
	CheckReadiness(ctx context.Context) map[string]string
}

// unmatchedRoute is the route label of a request no route took (404, 405, or refused before routing): a raw path
// would make a series per path, which anyone could grow without bound.
const unmatchedRoute = "unmatched"

// readinessTimeout bounds the checks of one /readyz call; each check has its own, shorter, bound.
const readinessTimeout = 3 * time.Second

// monitoringRoutes serves /readyz and, unless it has its own listener, /metrics. Neither takes a credential: they
// say nothing about tenants, and a load balancer or Prometheus has none to give.
func (s server) monitoringRoutes(r *mux.Router) {
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	if s.config.MetricsHandler != nil {
		r.Handle("/metrics", s.config.MetricsHandler).Methods(http.MethodGet)
	}
	if s.config.Metrics != nil {
		r.Use(recordRoute)
	}
}

// readyz answers 200 when every check is ok, else 503; both with each check's result.
func (s server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"readiness": "not configured"}
	if s.config.Readiness != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
		defer cancel()
		checks = s.config.Readiness.CheckReadiness(ctx)
	}
	status := http.StatusOK
	for _, result := range checks {
		if result != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, map[string]any{"checks": checks})
}

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
