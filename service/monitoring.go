package service

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/passpush/passpush/adapters/metrics"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
)

// databaseCheckTimeout is how long the database has to answer the readiness check.
const databaseCheckTimeout = time.Second

// newMetrics builds the metrics on a registry of their own: the series the parts record into, and the
// collectors of the database's pools.
func newMetrics(db *sqldb.DB, config metrics.Config) (*metrics.Metrics, error) {
	if config.InstanceID == "" {
		config.InstanceID = defaultInstanceID()
	}
	if config.Version == "" {
		config.Version = buildVersion()
	}
	m, err := metrics.New(prometheus.NewRegistry(), config)
	if err != nil {
		return nil, err
	}
	pools := []prometheus.Collector{collectors.NewDBStatsCollector(db.DB, "writer")}
	if db.Reader != db.DB {
		pools = append(pools, collectors.NewDBStatsCollector(db.Reader, "reader"))
	}
	return m, m.Register(pools...)
}

// defaultInstanceID tells instances apart: the host's name (a container's id) and the process id.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// buildVersion is the main module's version as the build recorded it: a tag, or the commit of a checkout.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "devel"
}

// registerStageMetrics registers what is read from the parts at scrape time: the deliveries in flight on this
// instance, the readiness checks, and the projections' lag and the deliveries pending, which the database holds.
func (s *Service) registerStageMetrics() error {
	groups := map[string]string{}
	for _, p := range s.projections() {
		groups[p.Name] = ProjectionsGroup
	}
	store, err := metrics.NewStoreCollector(s.DB, groups, s.Deliveries.Pending, s.log.WithField("component", "metrics"))
	if err != nil {
		return err
	}
	if err := s.Metrics.Register(store, metrics.NewReadinessCollector(s.CheckReadiness)); err != nil {
		return err
	}
	return s.Metrics.Gauge("deliveries_in_flight", "Deliveries this instance has claimed and not yet recorded.",
		func() float64 { return float64(s.worker.InFlight()) })
}

// decorate wraps every command and query handler of a in the same logging and metrics (app.Apply…Decorators), and counts
// the pass updates scheduled per tenant.
func decorate(a app.Application, log *logrus.Entry, m *metrics.Metrics) app.Application {
	log = log.WithField("component", "app")
	c, q := &a.Commands, &a.Queries
	c.RegisterPass = app.ApplyCommandDecorators(c.RegisterPass, log, m)
	c.ImportPasses = app.ApplyCommandDecorators(c.ImportPasses, log, m)
	c.SaveTenant = app.ApplyPairCommandDecorators(c.SaveTenant, log, m)
	c.ScheduleFromJourney = app.ApplyCommandDecorators(c.ScheduleFromJourney, log, m)
	c.ScheduleJourneyPassUpdates = m.CountScheduled(app.ApplyVoidCommandDecorators(c.ScheduleJourneyPassUpdates, log, m))
	c.RecordActivityLifecycle = app.ApplyCommandDecorators(c.RecordActivityLifecycle, log, m)
	c.RecordPushOutcomes = app.ApplyVoidCommandDecorators(c.RecordPushOutcomes, log, m)
	c.RedriveFailedDeliveries = app.ApplyCommandDecorators(c.RedriveFailedDeliveries, log, m)
	c.CheckPass = app.ApplyCommandDecorators(c.CheckPass, log, m)
	c.AddAppleCertificate = app.ApplyCommandDecorators(c.AddAppleCertificate, log, m)
	c.PutAppleTemplate = app.ApplyCommandDecorators(c.PutAppleTemplate, log, m)
	c.MakeInstallLink = app.ApplyCommandDecorators(c.MakeInstallLink, log, m)
	c.PutGoogleSettings = app.ApplyCommandDecorators(c.PutGoogleSettings, log, m)
	c.PutGoogleClass = app.ApplyCommandDecorators(c.PutGoogleClass, log, m)
	c.RegisterAppleDevice = app.ApplyCommandDecorators(c.RegisterAppleDevice, log, m)
	c.UnregisterAppleDevice = app.ApplyVoidCommandDecorators(c.UnregisterAppleDevice, log, m)
	c.CreateAPIKey = app.ApplyCommandDecorators(c.CreateAPIKey, log, m)
	c.RevokeAPIKey = app.ApplyVoidCommandDecorators(c.RevokeAPIKey, log, m)

	q.PassByID = app.ApplyQueryDecorators(q.PassByID, log, m)
	q.FindPasses = app.ApplyQueryDecorators(q.FindPasses, log, m)
	q.ActiveTenant = app.ApplyQueryDecorators(q.ActiveTenant, log, m)
	q.TenantByID = app.ApplyQueryDecorators(q.TenantByID, log, m)
	q.ListTenants = app.ApplyListQueryDecorators(q.ListTenants, log, m)
	q.AuditLog = app.ApplyQueryDecorators(q.AuditLog, log, m)
	q.FailedDeliveries = app.ApplyQueryDecorators(q.FailedDeliveries, log, m)
	q.Events = app.ApplyQueryDecorators(q.Events, log, m)
	q.AppleCertificates = app.ApplyQueryDecorators(q.AppleCertificates, log, m)
	q.ApplePass = app.ApplyQueryDecorators(q.ApplePass, log, m)
	q.CheckInstallLink = app.ApplyVoidQueryDecorators(q.CheckInstallLink, log, m)
	q.GoogleSettings = app.ApplyQueryDecorators(q.GoogleSettings, log, m)
	q.GoogleSaveLink = app.ApplyQueryDecorators(q.GoogleSaveLink, log, m)
	q.ApplePassHolder = app.ApplyQueryDecorators(q.ApplePassHolder, log, m)
	q.UpdatedApplePasses = app.ApplyQueryDecorators(q.UpdatedApplePasses, log, m)
	q.ListAPIKeys = app.ApplyQueryDecorators(q.ListAPIKeys, log, m)
	q.AuthenticateAPIKey = app.ApplyQueryDecorators(q.AuthenticateAPIKey, log, m)
	return a
}

// Monitoring adds the service's metrics and readiness to the HTTP port's config: requests are recorded,
// GET /readyz runs CheckReadiness, and GET /metrics is served on the same router (a separate listener serves
// Metrics.HTTPHandler instead; then clear MetricsHandler).
func (s *Service) Monitoring(c httpport.Config) httpport.Config {
	c.Metrics, c.Readiness, c.MetricsHandler = s.Metrics, s, s.Metrics.HTTPHandler()
	return c
}

// The readiness checks' names, as GET /readyz reports them.
const (
	CheckDatabase   = "database"
	CheckMigrations = "migrations"
	CheckBuses      = "buses"
	CheckDelivery   = "delivery"
)

// CheckReadiness tells whether this instance can do its work: the database answers within a second, every
// migration the binary has is applied, and the buses and the delivery stage run. Each check is "ok" or why not.
func (s *Service) CheckReadiness(ctx context.Context) map[string]string {
	checks := map[string]string{CheckDatabase: "ok", CheckMigrations: "ok", CheckBuses: "ok", CheckDelivery: "ok"}
	dbCtx, cancel := context.WithTimeout(ctx, databaseCheckTimeout)
	defer cancel()
	var one int
	if err := s.DB.QueryRowContext(dbCtx, `SELECT 1`).Scan(&one); err != nil {
		checks[CheckDatabase] = err.Error()
	}
	if pending, err := sqldb.PendingMigrations(dbCtx, s.DB); err != nil {
		checks[CheckMigrations] = err.Error()
	} else if pending {
		checks[CheckMigrations] = "migrations pending: run passpush migrate"
	}
	if !s.Bus.Router.IsRunning() || s.Bus.Router.IsClosed() {
		checks[CheckBuses] = "not running"
	}
	if !s.worker.Running() {
		checks[CheckDelivery] = "not running"
	}
	return checks
}

// appleCertificates lists every tenant's Pass Type ID certificates, tenant by tenant, for their expiry's metric.
func (a *adapters) appleCertificates(ctx context.Context) ([]metrics.AppleCertificate, error) {
	ts, err := a.tenantStore.List(ctx)
	if err != nil {
		return nil, err
	}
	var certs []metrics.AppleCertificate
	for _, t := range ts {
		infos, err := a.apple.certificates.List(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("Apple certificates of tenant %s: %w", t.ID, err)
		}
		for _, info := range infos {
			certs = append(certs, metrics.AppleCertificate{TenantID: t.ID, PassTypeID: info.PassTypeID, NotAfter: info.NotAfter})
		}
	}
	return certs, nil
}
