package service_test

// The component tests' harness: passpush on a fresh database behind a real HTTP server, the management API's
// calls, tenants with webhooks, passes registered in bulk, Journey Builder playing the SFMC activity with calls
// of every shape, a tenant's webhook, and readers of the audit log and the event store.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

const (
	adminToken = "test-admin-token"
	// sfmcSecret is acme's SFMC signing secret (sfmcSecretOf("acme")): each tenant has its own, of at least 16
	// bytes.
	sfmcSecret    = "sfmc-secret-of-acme"
	sfmcRoute     = "/webhooks/listeners/sfmc/actions/pushupdate"
	webhookSecret = "whsec"
)

// harness is passpush on a fresh database behind a real HTTP server on a random port.
type harness struct {
	t   *testing.T
	svc *service.Service
	url string
}

// start is passpush with the default service config behind a server with the given configuration.
func start(t *testing.T, config httpport.Config) *harness {
	t.Helper()
	return serve(t, service.Config{}, config)
}

// startService is passpush with a service config (retry backoffs, attempt limits and webhook clients for the
// delivery tests) behind a server that takes the test's admin token.
func startService(t *testing.T, config service.Config) *harness {
	t.Helper()
	return serve(t, config, testConfig())
}

// startWithTenant is start with the test's admin token and the tenant acme.
func startWithTenant(t *testing.T) *harness {
	h := start(t, testConfig())
	h.addTenant("acme")
	return h
}

func testConfig() httpport.Config { return httpport.Config{AdminToken: adminToken} }

// serve runs passpush behind a real HTTP server on a random port.
func serve(t *testing.T, config service.Config, server httpport.Config) *harness {
	t.Helper()
	svc, handler := run(t, config, server)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close) // runs before run's cleanup: no request is in flight when the service stops
	return &harness{t: t, svc: svc, url: srv.URL}
}

// runService starts passpush with the given service config and returns it with its HTTP handler, which takes
// the test's admin token, for the fuzz targets, which call the handler themselves.
func runService(tb testing.TB, config service.Config) (*service.Service, http.Handler) {
	return run(tb, config, testConfig())
}

// sfmcSecretOf is the SFMC signing secret the harness gives a tenant: no two tenants may share one.
func sfmcSecretOf(tenantID string) string { return "sfmc-secret-of-" + tenantID }

// run starts passpush on a fresh database and returns it with its HTTP handler. Everything stops when the test
// ends.
func run(tb testing.TB, config service.Config, server httpport.Config) (*service.Service, http.Handler) {
	tb.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	return runWithLog(tb, config, server, log)
}

// startWithLogHook is start with the test's admin token and the tenant acme, logging to a hook the test reads.
func startWithLogHook(t *testing.T, server httpport.Config) (*harness, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	svc, handler := runWithLog(t, service.Config{}, server, log)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	h := &harness{t: t, svc: svc, url: srv.URL}
	h.addTenant("acme")
	return h, hook
}

// startServiceWithLogHook is startService logging to a hook the test reads.
func startServiceWithLogHook(t *testing.T, config service.Config) (*harness, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	svc, handler := runWithLog(t, config, testConfig(), log)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &harness{t: t, svc: svc, url: srv.URL}, hook
}

// runWithLog is run with the given logger.
func runWithLog(tb testing.TB, config service.Config, server httpport.Config, log *logrus.Logger) (*service.Service, http.Handler) {
	tb.Helper()
	db := sqldbtest.New(tb)
	// The receivers are local http servers, which the default policy refuses; a test of the policy sets its own.
	if !config.Webhook.AllowInsecure && config.Webhook.AllowCIDRs == nil {
		local := webhooktest.LocalConfig()
		config.Webhook.AllowInsecure, config.Webhook.AllowCIDRs = local.AllowInsecure, local.AllowCIDRs
	}
	if config.Secrets == nil {
		config.Secrets = secretboxtest.New(tb)
	}
	svc, err := service.New(db, config, logrus.NewEntry(log))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.Run(ctx)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	handler, err := httpport.NewServer(svc.App, svc.Monitoring(server), logrus.NewEntry(log))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return svc, handler
}

// --- The management API ---

// addTenant creates the tenant with the usual signing secret through the command, so it works without an admin
// token too.
func (h *harness) addTenant(id string) {
	h.t.Helper()
	_, _, err := h.svc.App.Commands.SaveTenant.Handle(context.Background(), command.SaveTenant{
		TenantID: id, Mode: command.CreateOnly, Changes: tenant.Changes{SFMCSigningSecrets: []string{sfmcSecretOf(id)}},
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil || e["message"] == "" {
		t.Fatalf("body %s is not an error body", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

func (h *harness) do(method, path, token string, body io.Reader) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return h.send(req)
}

// send sends req and reads the whole response.
func (h *harness) send(req *http.Request) response {
	h.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (h *harness) admin(method, path, body string) response {
	h.t.Helper()
	return h.do(method, path, adminToken, strings.NewReader(body))
}

// fastRetries makes failed deliveries come back within milliseconds.
func fastRetries(maxAttempts int) service.Config {
	var c service.Config
	c.Delivery.Backoff = 10 * time.Millisecond
	c.Delivery.MaxBackoff = 40 * time.Millisecond
	c.Delivery.MaxAttempts = maxAttempts
	return c
}

// forTest returns the harness reporting to t, for subtests.
func (h *harness) forTest(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// putTenant creates or changes a tenant through the management API.
func (h *harness) putTenant(id, body string) {
	h.t.Helper()
	res := h.admin(http.MethodPut, "/api/admin/tenants/"+id, body)
	if res.status != http.StatusOK && res.status != http.StatusCreated {
		h.t.Fatalf("PUT tenant %s: %d %s", id, res.status, res.body)
	}
}

// tenantWithWebhook creates the tenant with the usual signing secret and its webhook at rcv.
func (h *harness) tenantWithWebhook(id string, rcv *receiver) {
	h.t.Helper()
	h.putTenant(id, fmt.Sprintf(`{"sfmcSigningSecrets":[%q],"webhook":{"url":%q,"secret":%q}}`, sfmcSecretOf(id), rcv.server.URL, webhookSecret))
}

// putPass registers one pass through the management API, which answers once the read model shows it.
func (h *harness) putPass(tenantID, passID, body string) {
	h.t.Helper()
	res := h.admin(http.MethodPut, "/api/"+tenantID+"/passes/"+passID, body)
	if res.status != http.StatusCreated && res.status != http.StatusOK {
		h.t.Fatalf("PUT pass %s: %d %s", passID, res.status, res.body)
	}
	if bytes.Contains(res.body, []byte(`"readModel":"catching up"`)) {
		// The write is stored, but a loaded machine (CI runs many packages at once) kept the read model past the
		// server's 5 s; tests that read the pass next wait for it here, as a client would poll.
		h.awaitPassVersion(tenantID, passID)
	}
}

// awaitPassVersion waits until the passes read model shows the pass's stream as the event store holds it.
func (h *harness) awaitPassVersion(tenantID, passID string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The stream, not the feed: on PostgreSQL the feed hides events until every older transaction on the server
	// ends, which is what held the read model back. The version to wait for is the last registration's: the
	// stream also holds events the passes read model doesn't apply.
	streams, err := h.svc.Events.Load(ctx, tenantID, passes.StreamID(passID))
	if err != nil {
		h.t.Fatal(err)
	}
	version := 0
	for _, e := range streams[passes.StreamID(passID)] {
		if e.Type == (pass.Registered{}).Name() || e.Type == (pass.DataChanged{}).Name() {
			version = e.Version
		}
	}
	if _, err := h.svc.App.Queries.PassByID.Handle(ctx, query.PassByID{TenantID: tenantID, PassID: passID, MinStreamVersion: version}); err != nil {
		h.t.Fatalf("the read model does not show pass %s version %d: %v", passID, version, err)
	}
}

// importPasses registers many passes at once and waits for the read model to show them all.
func (h *harness) importPasses(tenantID string, passes []command.RegisterPass) {
	h.t.Helper()
	ctx := context.Background()
	for start := 0; start < len(passes); start += 500 {
		batch := passes[start:min(start+500, len(passes))]
		res, err := h.svc.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: tenantID, Passes: batch})
		if err != nil {
			h.t.Fatal(err)
		}
		if res.Last == nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		_, err = h.svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: tenantID, PassID: res.Last.PassID, MinStreamVersion: res.Last.StreamVersion})
		cancel()
		if err != nil {
			h.t.Fatalf("the read model does not show the imported passes: %v", err)
		}
	}
}

func loyaltyPass(id, email, customID string) command.RegisterPass {
	return command.RegisterPass{PassID: id, Details: pass.Details{PassType: "loyalty", Email: email, CustomID: customID, Data: map[string]string{"points": "0"}}}
}

// passView reads a pass through the management API.
func (h *harness) passView(tenantID, passID string) map[string]any {
	h.t.Helper()
	res := h.admin(http.MethodGet, "/api/"+tenantID+"/passes/"+passID, "")
	if res.status != http.StatusOK {
		h.t.Fatalf("GET pass %s: %d %s", passID, res.status, res.body)
	}
	return res.json(h.t)
}

// auditEvent is one event as the audit API lists it.
type auditEvent struct {
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	JourneyID     string          `json:"journeyId"`
	PassID        string          `json:"passId"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

func (e auditEvent) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("audit data %s: %v", e.Data, err)
	}
	return m
}

type auditPage struct {
	Events []auditEvent `json:"events"`
	Next   *int64       `json:"next"`
}

// auditPage reads one page of the tenant's audit log; query holds the filters, after and limit.
func (h *harness) auditPage(tenantID, query string) auditPage {
	h.t.Helper()
	res := h.admin(http.MethodGet, "/api/"+tenantID+"/audit?"+query, "")
	if res.status != http.StatusOK {
		h.t.Fatalf("GET audit?%s: %d %s", query, res.status, res.body)
	}
	var page auditPage
	if err := json.Unmarshal(res.body, &page); err != nil {
		h.t.Fatalf("audit page %s: %v", res.body, err)
	}
	return page
}

// auditAll follows the cursor through every page of the tenant's audit log that matches the filters.
func (h *harness) auditAll(tenantID, filters string, limit int) []auditEvent {
	h.t.Helper()
	var all []auditEvent
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > 100000 {
			h.t.Fatal("the audit log's cursor never ends")
		}
		q := fmt.Sprintf("limit=%d&after=%d", limit, after)
		if filters != "" {
			q += "&" + filters
		}
		page := h.auditPage(tenantID, q)
		all = append(all, page.Events...)
		if page.Next == nil {
			return all
		}
		if *page.Next <= after {
			h.t.Fatalf("next %d does not move past %d", *page.Next, after)
		}
		after = *page.Next
	}
}

func auditTypesOf(events []auditEvent) []string {
	types := make([]string, len(events))
	for i, e := range events {
		types[i] = e.Type
	}
	return types
}

// auditTypes lists the types of acme's first 1,000 audit events that match the filters in query.
func (h *harness) auditTypes(query string) []string {
	h.t.Helper()
	return auditTypesOf(h.auditPage("acme", "limit=1000&"+query).Events)
}

func count(items []string, want string) int {
	n := 0
	for _, s := range items {
		if s == want {
			n++
		}
	}
	return n
}

// storedEvents returns every event in the event store, in global order.
func (h *harness) storedEvents() []eventstore.Event {
	h.t.Helper()
	var all []eventstore.Event
	if err := h.svc.Events.Each(context.Background(), func(e *eventstore.Event) error {
		all = append(all, *e)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return all
}

// storedOfType returns the stored events of one type with their payloads decoded.
func (h *harness) storedOfType(typ string) []storedEvent {
	h.t.Helper()
	var out []storedEvent
	for _, e := range h.storedEvents() {
		if e.Type == typ {
			out = append(out, storedEventOf(h.t, e))
		}
	}
	return out
}

func storedEventOf(t testing.TB, e eventstore.Event) storedEvent {
	t.Helper()
	var payload map[string]any
	if err := json.Unmarshal(e.Payload, &payload); err != nil {
		t.Fatalf("payload of %s %s: %v", e.Type, e.ID, err)
	}
	return storedEvent{Event: e, payload: payload}
}

type storedEvent struct {
	eventstore.Event
	payload map[string]any
}

func (e storedEvent) passID() string { return strings.TrimPrefix(e.StreamID, "pass-") }

// settled waits until every scheduled update has its delivery outcome recorded: no delivery is pending and the
// store holds as many outcomes as PassUpdateScheduled events.
func (h *harness) settled(timeout time.Duration) {
	h.t.Helper()
	poll(h.t, timeout, 50*time.Millisecond, "every scheduled update to have an outcome", func() bool {
		pending, err := h.svc.Deliveries.Pending(context.Background())
		if err != nil || pending != 0 {
			return false
		}
		scheduled, outcomes := 0, 0
		for _, e := range h.storedEvents() {
			switch e.Type {
			case "PassUpdateScheduled":
				scheduled++
			case "PushUpdateEmitted", "PushUpdateFailed":
				outcomes++
			}
		}
		return scheduled == outcomes
	})
}

// poll is eventually with a chosen interval, for conditions that are expensive to check.
func poll(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, timeout, 10*time.Millisecond, what, cond)
}

// --- Journey Builder's calls ---

// journeyBuilder plays SFMC Journey Builder: it signs execute calls with the installed package's secret.
type journeyBuilder struct {
	h          *harness
	secret     string
	journeyID  string
	activityID string
}

func newJourneyBuilder(h *harness) *journeyBuilder {
	return &journeyBuilder{h: h, secret: sfmcSecret, journeyID: "journey-1", activityID: "activity-1"}
}

// sign signs claims as Journey Builder does, with HS256 and the installed package's secret.
func (jb *journeyBuilder) sign(claims jwt.MapClaims) string {
	return jb.signedWithSecret(jb.secret, claims)
}

// executeClaims are what Journey Builder puts in an execute JWT for one contact entry.
func (jb *journeyBuilder) executeClaims(entry string, inArguments ...map[string]any) jwt.MapClaims {
	return jwt.MapClaims{
		"inArguments":          inArguments,
		"outArguments":         []any{},
		"activityObjectID":     "object-1",
		"journeyId":            jb.journeyID,
		"activityId":           jb.activityID,
		"definitionInstanceId": entry,
		"activityInstanceId":   "instance-1",
		"keyValue":             "contact-" + entry,
		"mode":                 0,
	}
}

// execute sends an execute call's body as Journey Builder does, as application/jwt.
func (jb *journeyBuilder) execute(tenantID, body string) response {
	jb.h.t.Helper()
	return jb.post(tenantID, "execute", "application/jwt", body)
}

// post sends body to one of the activity's routes with a content type, as Journey Builder would.
func (jb *journeyBuilder) post(tenantID, route, contentType, body string) response {
	jb.h.t.Helper()
	res, err := postSFMC(http.DefaultClient, jb.h.url, tenantID, route, contentType, body)
	if err != nil {
		jb.h.t.Fatal(err)
	}
	return res
}

// postSFMC is post for goroutines: it returns its error instead of failing the test.
func postSFMC(client *http.Client, baseURL, tenantID, route, contentType, body string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/api/"+tenantID+sfmcRoute+"/"+route, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// signWith signs claims with any method and key, for the algorithms passpush must refuse.
func (jb *journeyBuilder) signWith(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	jb.h.t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		jb.h.t.Fatal(err)
	}
	return token
}

// signedWithSecret signs claims with HS256 and the given secret.
func (jb *journeyBuilder) signedWithSecret(secret string, claims jwt.MapClaims) string {
	return jb.signWith(jwt.SigningMethodHS256, []byte(secret), claims)
}

// handMadeToken builds a compact JWT from a header and claims, signed with HMAC-SHA256 over secret when it is
// not empty, or with an empty signature. It is how the tests craft tokens no library would make.
func handMadeToken(t testing.TB, header, claims any, secret string) string {
	t.Helper()
	seg := func(v any) string {
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signingInput := seg(header) + "." + seg(claims)
	if secret == "" {
		return signingInput + "."
	}
	return signingInput + "." + hmacSignature(secret, signingInput)
}

func hmacSignature(secret, signingInput string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// in is one inArguments entry.
func in(key string, value any) map[string]any { return map[string]any{key: value} }

// wantScheduled fails unless res is 200 {"status":"scheduled","passes":n}.
func wantScheduled(t *testing.T, res response, n int) {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("execute: got %d %s, want 200", res.status, res.body)
	}
	body := res.json(t)
	if body["status"] != "scheduled" || body["passes"] != float64(n) {
		t.Fatalf("execute answered %s, want status scheduled and passes %d", res.body, n)
	}
}

// wantError fails unless res is the error status and code.
func wantError(t *testing.T, res response, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("got %d %s, want %d %s", res.status, res.body, status, code)
	}
	if got := res.errorCode(t); code != "" && got != code {
		t.Fatalf("got code %q (%s), want %q", got, res.body, code)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

// --- A tenant's webhook ---

// receiver is a tenant's webhook: it checks signatures and records deliveries per event and their order per pass.
type receiver struct {
	t      *testing.T
	secret string
	delay  time.Duration
	// fail answers this status to the first failures[eventId] calls of an event.
	failStatus int
	failTimes  int
	// behave, when set, decides a validly signed call's answer: a status (0 means 204, unless failTimes applies)
	// and how long to take before answering. call counts the calls of this event, from 1. Set it with configure.
	behave func(msg map[string]any, call int) (status int, delay time.Duration)
	// hold, when set, keeps every call waiting until it is closed.
	hold <-chan struct{}

	mu          sync.Mutex
	calls       map[string]int
	ok          map[string]int   // 2xx answers per eventId
	perPass     map[string][]int // versions in arrival order
	bad         []string
	lastByPass  map[string]map[string]any
	inFlight    int
	maxInFlight int
	server      *httptest.Server
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, calls: map[string]int{}, ok: map[string]int{}, perPass: map[string][]int{}, lastByPass: map[string]map[string]any{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.server.Close)
	return r
}

// configure changes the receiver's behaviour under its lock, so a change races with no call in flight.
func (r *receiver) configure(change func(r *receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(r)
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	signatureErr := webhooktest.Verify(req.Header.Get(webhook.SignatureHeader), body, r.secret, time.Now())
	var msg map[string]any
	err := json.Unmarshal(body, &msg)
	r.mu.Lock()
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	defer func() {
		r.inFlight--
		r.mu.Unlock()
	}()
	if signatureErr != nil || err != nil {
		r.bad = append(r.bad, string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id, _ := msg["eventId"].(string)
	r.calls[id]++
	if r.calls[id] <= r.failTimes {
		w.WriteHeader(r.failStatus)
		return
	}
	status, delay := 0, r.delay
	if r.behave != nil {
		var d time.Duration
		status, d = r.behave(msg, r.calls[id])
		delay += d
	}
	if hold := r.hold; delay > 0 || hold != nil {
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-req.Context().Done():
		}
		timer.Stop()
		r.mu.Lock()
		if req.Context().Err() != nil {
			// The caller gave up (its timeout): this call delivered nothing.
			return
		}
	}
	if status != 0 && (status < 200 || status > 299) {
		w.WriteHeader(status)
		return
	}
	passID, _ := msg["passId"].(string)
	version, _ := msg["version"].(float64)
	r.perPass[passID] = append(r.perPass[passID], int(version))
	r.lastByPass[passID] = msg
	r.ok[id]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.perPass {
		n += len(v)
	}
	return n
}
