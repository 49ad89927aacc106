package service_test

// Issue 14 §1 "Metrics and readiness": GET /metrics after an execute call flows to a webhook, the route label,
// labels free of pass ids and emails, the projections' lag, and GET /readyz up, without its database and without
// its delivery stage.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"
)

// scrape is one read of GET /metrics, by metric name.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads GET /metrics from url, as Prometheus does.
func scrapeMetrics(t testing.TB, url string) scrape {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("GET /metrics is not Prometheus text: %v", err)
	}
	return families
}

// series returns the series of name whose labels include want, and whether there is one.
func (s scrape) series(name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := s[name]
	if !ok {
		return nil, false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			return m, true
		}
	}
	return nil, false
}

// value is a counter's or gauge's value, a histogram's count.
func (s scrape) value(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	m, ok := s.series(name, labels)
	if !ok {
		t.Fatalf("no series %s%v in /metrics", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("series %s%v has no value", name, labels)
	return 0
}

// labelValues lists every label value of every series.
func (s scrape) labelValues() []string {
	var values []string
	for _, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				values = append(values, f.GetName()+"{"+l.GetName()+"="+l.GetValue()+"}")
			}
		}
	}
	return values
}

func TestMetrics_anExecuteCallThatReachesTheWebhookShowsInEveryMetric(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, service.Config{}, 1)
	jb.schedule("p-1", "entry-7f3a")
	if o := h.outcomeOf("p-1", "entry-7f3a"); o.typ != "PushUpdateEmitted" {
		t.Fatalf("outcome %s, want PushUpdateEmitted", o.typ)
	}
	if rcv.delivered() == 0 {
		t.Fatal("the webhook got nothing")
	}
	h.settled(30 * time.Second)
	// A request to no route, whose path must not become a label.
	h.do(http.MethodGet, "/no/such/route-p-1", "", nil)

	s := scrapeMetrics(t, h.url)
	execute := "/api/{tenantId}" + httpport.SFMCBasePath + "/execute"
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"passpush_http_requests_total", map[string]string{"route": execute, "method": "POST", "code": "200"}, 1},
		{"passpush_http_request_duration_seconds", map[string]string{"route": execute}, 1},
		{"passpush_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
		{"passpush_pass_updates_scheduled_total", map[string]string{"tenant": "acme"}, 1},
		{"passpush_projection_lag_events", map[string]string{"projection": service.ProjectionPasses}, 0},
		{"passpush_projection_lag_events", map[string]string{"projection": service.ProjectionDeliveries}, 0},
		{"passpush_deliveries_pending", nil, 0},
		{"passpush_deliveries_in_flight", nil, 0},
		{"passpush_delivery_outcomes_total", map[string]string{"channel": "webhook", "outcome": "delivered"}, 1},
		{"passpush_channel_call_duration_seconds", map[string]string{"channel": "webhook"}, 1},
		{"passpush_handler_calls_total", map[string]string{"kind": "command", "handler": "ScheduleFromJourney", "result": "ok"}, 1},
		{"passpush_handler_calls_total", map[string]string{"kind": "command", "handler": "RecordPushOutcomes", "result": "ok"}, 1},
		{"passpush_handler_duration_seconds", map[string]string{"kind": "query", "handler": "ActiveTenant"}, 1},
		{"passpush_instance_info", nil, 1},
		{"passpush_ready", map[string]string{"check": "delivery"}, 1},
		{"passpush_ready", map[string]string{"check": "database"}, 1},
		{"go_sql_open_connections", map[string]string{"db_name": "writer"}, 0},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	} {
		if v := s.value(t, c.name, c.labels); v < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, v, c.min)
		}
	}
	// Everything settled: nothing waits, no projection is behind.
	for _, name := range []string{"passpush_deliveries_pending", "passpush_deliveries_in_flight"} {
		if v := s.value(t, name, nil); v != 0 {
			t.Errorf("%s = %v once settled, want 0", name, v)
		}
	}
	// The outcomes are stored before the projections take them.
	eventually(t, 10*time.Second, "the projections to catch up", func() bool {
		return scrapeMetrics(t, h.url).value(t, "passpush_projection_lag_events", map[string]string{"projection": service.ProjectionAudit}) == 0
	})
	for _, l := range s.labelValues() {
		for _, secret := range []string{"p-1", "owner1@example.com", "entry-7f3a", jb.journeyID, "/no/such"} {
			if strings.Contains(l, secret) {
				t.Errorf("label %s carries %q", l, secret)
			}
		}
	}
}

// TestMetrics_projectionLagCountsTheEventsNotProjectedYet stores events while the projections do not run, then
// runs them: the lag is every stored event, then none.
func TestMetrics_projectionLagCountsTheEventsNotProjectedYet(t *testing.T) {
	svc := newService(t)
	for i := range 3 {
		p := loyaltyPass(fmt.Sprintf("p-%d", i), "", "")
		p.TenantID = "acme"
		if _, err := svc.App.Commands.RegisterPass.Handle(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(svc.Metrics.HTTPHandler())
	t.Cleanup(srv.Close)
	stored := storedEventCount(t, svc)
	if stored == 0 {
		t.Fatal("no events stored")
	}
	for _, p := range []string{service.ProjectionPasses, service.ProjectionAudit, service.ProjectionDeliveries} {
		if lag := scrapeMetrics(t, srv.URL).value(t, "passpush_projection_lag_events", map[string]string{"projection": p}); lag != stored {
			t.Errorf("lag of %s = %v before the projections ran, want the %v events stored", p, lag, stored)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.RunBus(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, 10*time.Second, "the projections to catch up", func() bool {
		return scrapeMetrics(t, srv.URL).value(t, "passpush_projection_lag_events", map[string]string{"projection": service.ProjectionPasses}) == 0
	})
}

// newService builds passpush on a fresh database without running it.
func newService(t *testing.T) *service.Service {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	svc, err := service.New(sqldbtest.New(t), service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// storedEventCount counts the events stored, committed or not yet visible to the store's readers.
func storedEventCount(t *testing.T, svc *service.Service) float64 {
	t.Helper()
	var n float64
	if err := svc.DB.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readyz is GET /readyz's status and checks.
func readyz(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	return res.StatusCode, body.Checks
}

func TestReadyz_answers200WhenEverythingRuns(t *testing.T) {
	h := startWithTenant(t)
	status, checks := readyz(t, h.url)
	want := map[string]string{"database": "ok", "migrations": "ok", "buses": "ok", "delivery": "ok"}
	if status != http.StatusOK || fmt.Sprint(checks) != fmt.Sprint(want) {
		t.Fatalf("GET /readyz = %d %v, want 200 %v", status, checks, want)
	}
	if res := h.do(http.MethodGet, "/healthz", "", nil); res.status != http.StatusOK {
		t.Fatalf("GET /healthz = %d", res.status)
	}
}

func TestReadyz_answers503WhenTheDatabaseIsGone(t *testing.T) {
	h := startWithTenant(t)
	cutOffDatabase(t, h.svc)
	status, checks := readyz(t, h.url)
	if status != http.StatusServiceUnavailable || checks["database"] == "ok" || checks["database"] == "" {
		t.Fatalf("GET /readyz without a database = %d %v, want 503 with the database's failure", status, checks)
	}
	// Liveness does not depend on the database: restarting the process would not bring it back.
	if res := h.do(http.MethodGet, "/healthz", "", nil); res.status != http.StatusOK {
		t.Fatalf("GET /healthz = %d", res.status)
	}
}

// cutOffDatabase makes svc's database unreachable. On PostgreSQL the database stops taking connections and its
// sessions are terminated, as when the server is stopped; they are let back in when the test ends. An SQLite
// file has no server to stop: its pools are closed.
func cutOffDatabase(t *testing.T, svc *service.Service) {
	t.Helper()
	if svc.DB.Dialect.Name != "postgres" {
		_ = svc.DB.Close()
		return
	}
	var name string
	if err := svc.DB.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", os.Getenv(sqldbtest.EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS true`)
		_ = admin.Close()
	})
	if _, err := admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Fatal(err)
	}
}

func TestReadyz_answers503WhenTheDeliveryStageDoesNotRun(t *testing.T) {
	svc := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.RunBus(ctx) // the buses without the delivery stage
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	handler, err := httpport.NewServer(svc.App, svc.Monitoring(testConfig()), logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	status, checks := readyz(t, srv.URL)
	if status != http.StatusServiceUnavailable || checks["delivery"] == "ok" || checks["buses"] != "ok" || checks["database"] != "ok" {
		t.Fatalf("GET /readyz without the delivery stage = %d %v, want 503 with only delivery failing", status, checks)
	}
	s := scrapeMetrics(t, srv.URL)
	if v := s.value(t, "passpush_ready", map[string]string{"check": "delivery"}); v != 0 {
		t.Errorf("passpush_ready{check=delivery} = %v without the delivery stage, want 0", v)
	}
	if v := s.value(t, "passpush_ready", map[string]string{"check": "buses"}); v != 1 {
		t.Errorf("passpush_ready{check=buses} = %v, want 1", v)
	}

	// An update scheduled while nothing delivers waits in the queue, and counts for its tenant.
	p := loyaltyPass("p-1", "", "")
	p.TenantID = "acme"
	if _, err := svc.App.Commands.RegisterPass.Handle(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	err = svc.App.Commands.ScheduleJourneyPassUpdates.Handle(t.Context(), &command.ScheduleJourneyPassUpdates{
		Updates: []command.ScheduleJourneyPassUpdate{{TenantID: "acme", PassID: "p-1", Update: pass.UpdateFromJourney{
			JourneyID: "journey-1", ActivityID: "activity-1", DefinitionInstanceID: "entry-1", Fields: map[string]string{"points": "5"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, 100*time.Millisecond, "the update to wait in the delivery queue", func() bool {
		return scrapeMetrics(t, srv.URL).value(t, "passpush_deliveries_pending", nil) == 1
	})
	if v := scrapeMetrics(t, srv.URL).value(t, "passpush_pass_updates_scheduled_total", map[string]string{"tenant": "acme"}); v != 1 {
		t.Errorf("passpush_pass_updates_scheduled_total{tenant=acme} = %v, want 1", v)
	}
}

// TestMetrics_deliveriesHeldByTheReceiverShowInFlight: while the webhook holds its calls, the deliveries pushing
// to it are in flight on this instance and pending in the queue; once it answers, neither.
func TestMetrics_deliveriesHeldByTheReceiverShowInFlight(t *testing.T) {
	h, jb, rcv := deliveryFixture(t, heldCallsConfig(), 2)
	open := rcv.holdCalls(t)
	jb.schedule("p-1", "entry-1")
	jb.schedule("p-2", "entry-2")
	eventually(t, 10*time.Second, "both pushes to reach the receiver", func() bool { return rcv.callsInFlight() == 2 })
	s := scrapeMetrics(t, h.url)
	if inFlight, pending := s.value(t, "passpush_deliveries_in_flight", nil), s.value(t, "passpush_deliveries_pending", nil); inFlight != 2 || pending != 2 {
		t.Errorf("while the receiver holds both calls: %v in flight, %v pending, want 2 and 2", inFlight, pending)
	}
	open()
	h.settled(30 * time.Second)
	eventually(t, 10*time.Second, "nothing in flight", func() bool {
		return scrapeMetrics(t, h.url).value(t, "passpush_deliveries_in_flight", nil) == 0
	})
}

// TestMetrics_reportWhenEachAppleCertificateExpires: an expired Pass Type ID certificate stops every push of its
// passes, so /metrics tells, per tenant and Pass Type ID, when each one expires; a tenant without one has no series.
func TestMetrics_reportWhenEachAppleCertificateExpires(t *testing.T) {
	h := startWithTenant(t)
	h.addTenant("beta")
	pki := appletest.NewPKI(t)
	h.putCertificate("acme", pki)

	s := scrapeMetrics(t, h.url)
	const name = "passpush_apple_certificate_expiry_timestamp_seconds"
	got := s.value(t, name, map[string]string{"tenant": "acme", "pass_type_id": appletest.PassTypeID})
	if want := float64(pki.Pass.Cert.NotAfter.Unix()); got != want {
		t.Errorf("%s of acme = %.0f, want the certificate's NotAfter %.0f", name, got, want)
	}
	if _, ok := s.series(name, map[string]string{"tenant": "beta"}); ok {
		t.Errorf("tenant beta, which has no certificate, has a series %s", name)
	}
}
