package service_test

// The pieces the SFMC activity's tests share: passpush with a chosen service config, tenants with webhooks,
// passes registered in bulk, Journey Builder calls of every shape, and readers of the audit log and event store.

import (
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
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

const (
	sfmcRoute     = "/webhooks/listeners/sfmc/actions/pushupdate"
	webhookSecret = "whsec"
)

// runService starts passpush on a fresh database with the given service config and returns it with its HTTP
// handler. Everything stops when the test ends.
func runService(tb testing.TB, config service.Config) (*service.Service, http.Handler) {
	tb.Helper()
	db := sqldbtest.New(tb)
	log := logrus.New()
	log.SetOutput(io.Discard)
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
	handler, err := httpport.NewServer(svc.App, testConfig(), logrus.NewEntry(log))
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

// startService is start with a service config: retry backoffs, attempt limits and webhook clients for the
// delivery tests.
func startService(t *testing.T, config service.Config) *harness {
	t.Helper()
	svc, handler := runService(t, config)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close) // runs before runService's cleanup: no request is in flight when the service stops
	return &harness{t: t, svc: svc, url: srv.URL}
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
	h.putTenant(id, fmt.Sprintf(`{"sfmcSigningSecrets":[%q],"webhook":{"url":%q,"secret":%q}}`, sfmcSecret, rcv.server.URL, webhookSecret))
}

// putPass registers one pass through the management API, which answers once the read model shows it.
func (h *harness) putPass(tenantID, passID, body string) {
	h.t.Helper()
	res := h.admin(http.MethodPut, "/api/"+tenantID+"/passes/"+passID, body)
	if res.status != http.StatusCreated && res.status != http.StatusOK {
		h.t.Fatalf("PUT pass %s: %d %s", passID, res.status, res.body)
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

// --- Journey Builder's calls ---

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
