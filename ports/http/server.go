// Package httpport turns HTTP requests into application calls and their results into responses.
package httpport

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// Config is what the HTTP port needs beyond the application.
type Config struct {
	// AdminToken guards the management API. Empty means the management API answers 401 to everyone.
	AdminToken string
	// PublicURL is the base URL Journey Builder reaches passpush at, e.g. https://passpush.example.com.
	PublicURL string
	// ReadYourWritesTimeout bounds how long a write waits for the read model to show it. Default 5s.
	ReadYourWritesTimeout time.Duration
	// TrustedProxies are PASSPUSH_TRUSTED_PROXIES: the peers whose Forwarded and X-Forwarded-* headers are
	// believed, for the URLs built without PublicURL and for the client address in the security log. Empty
	// trusts no one.
	TrustedProxies []netip.Prefix
	// FrameAncestors is PASSPUSH_FRAME_ANCESTORS, the CSP frame-ancestors sources of the configuration page.
	// Default DefaultFrameAncestors, Marketing Cloud's origins.
	FrameAncestors string
	// Now is the clock of the limit on failed JWT verifications and of its sampled log. Default time.Now.
	Now func() time.Time
	// MaxInFlight caps the requests served at once (PASSPUSH_MAX_IN_FLIGHT); past it they get 503. Default
	// DefaultMaxInFlight.
	MaxInFlight int
	// Metrics records every request by route template, method and status code; nil records nothing.
	Metrics RequestMetrics
	// MetricsHandler serves GET /metrics; nil serves no /metrics here (PASSPUSH_METRICS_ADDR gives it a listener
	// of its own).
	MetricsHandler http.Handler
	// Readiness runs the checks of GET /readyz; nil answers 503.
	Readiness Readiness
}

// DefaultFrameAncestors are the origins Journey Builder frames the configuration page from.
const DefaultFrameAncestors = "https://*.exacttarget.com https://*.marketingcloudapps.com"

func (c *Config) setDefaults() {
	if c.ReadYourWritesTimeout == 0 {
		c.ReadYourWritesTimeout = 5 * time.Second
	}
	if c.FrameAncestors == "" {
		c.FrameAncestors = DefaultFrameAncestors
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
}

// Body limits per route.
const maxAdminBody = 1 << 20

type server struct {
	app    app.Application
	config Config
	log    *logrus.Entry
	// jwtFailures counts failed JWT verifications per tenant: the 429 limit and the sampled security log.
	jwtFailures *jwtFailures
}

// NewServer returns the HTTP handler of every passpush route.
func NewServer(application app.Application, config Config, log *logrus.Entry) (http.Handler, error) {
	if log == nil {
		return nil, errors.New("new http server: nil logger")
	}
	config.setDefaults()
	s := server{app: application, config: config, log: log, jwtFailures: newJWTFailures(config.Now)}

	r := mux.NewRouter()
	r.Use(s.withRequestID, s.withRecovery, s.withSafeHeaders, s.refuseNUL)
	r.NotFoundHandler = s.withRequestID(s.withSafeHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.respondError(w, r, httperr.NotFound("no such route"))
	})))
	r.MethodNotAllowedHandler = s.withRequestID(s.withSafeHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.respondError(w, r, &httperr.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method not allowed on this route"})
	})))

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	s.monitoringRoutes(r)

	// Journey Builder authenticates with the JWT it signs, not with the admin token. Its routes come first:
	// gorilla/mux tries routes in order, each with a regular expression, and execute is called once per
	// contact; after some forty others, the search was a tenth of the split's CPU in the service. None of the
	// routes after them matches their paths: the admin routes have no webhooks segment, and "admin" is no tenant.
	sfmc := s.journeyBuilderRoutes(r, SFMCBasePath, pushUpdateActivity, s.execute)
	// What Journey Builder loads to show the activity: its description (above) and its configuration page.
	sfmc.HandleFunc(uiAssetRoute, s.activityUI).Methods(http.MethodGet, http.MethodHead)
	// The "Wallet pass?" split, and its configuration page.
	split := s.journeyBuilderRoutes(r, PassCheckBasePath, passCheckActivity, s.passCheck)
	split.HandleFunc(uiAssetRoute, s.passCheckUI).Methods(http.MethodGet, http.MethodHead)

	// The admin routes come before the other tenant routes: "admin" is a reserved tenant id, so they never shadow
	// a tenant.
	s.appleSettingsRoutes(r)
	s.googleSettingsRoutes(r)
	admin := r.PathPrefix("/api/admin").Subrouter()
	admin.Use(s.requireAdmin, s.limitBody(maxAdminBody))
	admin.HandleFunc("/tenants", s.listTenants).Methods(http.MethodGet)
	admin.HandleFunc("/tenants/{tenantId}", s.getTenant).Methods(http.MethodGet)
	admin.HandleFunc("/tenants/{tenantId}", s.putTenant).Methods(http.MethodPut)
	s.apiKeyRoutes(admin)

	passes := r.PathPrefix("/api/{tenantId}/passes").Subrouter()
	passes.Use(s.requireTenantCredential, s.requireTenant, s.limitBody(maxAdminBody))
	passes.HandleFunc("", s.findPasses).Methods(http.MethodGet)
	passes.HandleFunc("/{passId}", s.getPass).Methods(http.MethodGet)
	passes.HandleFunc("/{passId}", s.putPass).Methods(http.MethodPut)
	s.installLinkRoutes(r, passes)

	audit := r.PathPrefix("/api/{tenantId}/audit").Subrouter()
	audit.Use(s.requireTenantCredential, s.requireTenant)
	audit.HandleFunc("", s.auditLog).Methods(http.MethodGet)
	s.eventFeedRoutes(r)

	s.appleWebServiceRoutes(r)

	if config.Metrics != nil {
		return s.withMetrics(s.limitInFlight(r)), nil
	}
	return s.limitInFlight(r), nil
}

// journeyBuilderRoutes registers a Journey Builder activity's config.json, execute and lifecycle routes under
// /api/{tenantId}{basePath}, and returns their router for the activity's page.
func (s server) journeyBuilderRoutes(r *mux.Router, basePath string, kind activityKind, execute http.HandlerFunc) *mux.Router {
	sub := r.PathPrefix("/api/{tenantId}" + basePath).Subrouter()
	sub.Use(s.requireTenant, s.limitBody(maxSFMCBody))
	// execute first: it is the route called per contact.
	sub.HandleFunc("/execute", execute).Methods(http.MethodPost)
	sub.HandleFunc("/config.json", s.activityConfigJSON(kind, basePath)).Methods(http.MethodGet, http.MethodHead, http.MethodOptions)
	for _, stage := range activity.Stages {
		sub.HandleFunc("/"+string(stage), s.lifecycle(stage)).Methods(http.MethodPost)
	}
	return sub
}

func (s server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeJSON answers v with status; respondError answers an error, through httperr.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s server) respondError(w http.ResponseWriter, r *http.Request, err error) {
	httperr.Respond(w, r, requestLog(r, s.log), err)
}
