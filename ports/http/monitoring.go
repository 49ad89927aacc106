package httpport

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// Readiness runs the checks of GET /readyz: service.Service.
type Readiness interface {
	// CheckReadiness returns each check's result, "ok" or why not.
	CheckReadiness(ctx context.Context) map[string]string
}

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
