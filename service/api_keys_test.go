package service_test

// Issue 13 §2 and §8: per-tenant API keys open their tenant's routes and nothing else; tenant and key changes are
// events of the tenant-{id} stream, in the audit log; refused keys and changes are in the security log.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/tenant"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

var apiKeyPattern = regexp.MustCompile(`^pp_acme_[0-9a-f]{64}$`)

// createKey makes an API key of the tenant through the management API and returns it.
func (h *harness) createKey(tenantID, name string) string {
	h.t.Helper()
	res := h.admin(http.MethodPost, "/api/admin/tenants/"+tenantID+"/keys", `{"name":"`+name+`"}`)
	if res.status != http.StatusCreated {
		h.t.Fatalf("create key %s of %s: %d %s", name, tenantID, res.status, res.body)
	}
	key, _ := res.json(h.t)["key"].(string)
	if !strings.HasPrefix(key, "pp_"+tenantID+"_") {
		h.t.Fatalf("create key answered %s", res.body)
	}
	return key
}

// tenantRoute is one method of one route of the router, with its path filled in for a tenant.
type tenantRoute struct{ method, template string }

// publicTenantRoutes are the /api/{tenantId}/… routes that take other credentials than the admin token or an API
// key: Journey Builder's JWT (and the activities' pages, which are public), the PassKit web service's ApplePass
// token, and a signed install link.
var publicTenantRoutes = regexp.MustCompile(`^/api/\{tenantId\}(` + regexp.QuoteMeta(httpport.SFMCBasePath) + `|` +
	regexp.QuoteMeta(httpport.PassCheckBasePath) + `|/apple/)`)

// routesOf walks the router passpush serves and returns each method of each route whose template matches.
func routesOf(t *testing.T, svc *service.Service, match func(template string) bool) []tenantRoute {
	t.Helper()
	handler, err := httpport.NewServer(svc.App, testConfig(), logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	// The router is wrapped by the limit on requests in flight.
	if wrapper, ok := handler.(interface{ Unwrap() http.Handler }); ok {
		handler = wrapper.Unwrap()
	}
	var routes []tenantRoute
	err = handler.(*mux.Router).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		template, err := route.GetPathTemplate()
		if err != nil || !match(template) {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix, not a route
		}
		for _, m := range methods {
			routes = append(routes, tenantRoute{method: m, template: template})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

var routeVar = regexp.MustCompile(`\{([A-Za-z]+)(:[^}]*)?\}`)

// path fills the route's variables: the tenant, and p-1 for every other one.
func (r tenantRoute) path(tenantID string) string {
	return routeVar.ReplaceAllStringFunc(r.template, func(v string) string {
		if strings.HasPrefix(v, "{tenantId") {
			return tenantID
		}
		return "p-1"
	})
}

func TestAPIKeys_openTheirTenantsRoutesAndNoOther(t *testing.T) {
	h := startWithTenant(t)
	h.addTenant("other")
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	acmeKey, otherKey := h.createKey("acme", "crm"), h.createKey("other", "crm")
	revoked := h.createKey("acme", "old")
	if res := h.admin(http.MethodDelete, "/api/admin/tenants/acme/keys/old", ""); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	unknown := "pp_acme_" + strings.Repeat("ab", 32)

	routes := routesOf(t, h.svc, func(template string) bool {
		// The event feed takes the admin token only (event_feed_test.go).
		return strings.HasPrefix(template, "/api/{tenantId}/") && !publicTenantRoutes.MatchString(template) &&
			template != "/api/{tenantId}/events"
	})
	var seen []string
	for _, r := range routes {
		seen = append(seen, r.method+" "+r.template)
	}
	// The walk must find the routes the issue names, or the table below would test nothing.
	for _, want := range []string{
		"GET /api/{tenantId}/passes", "GET /api/{tenantId}/passes/{passId}", "PUT /api/{tenantId}/passes/{passId}",
		"POST /api/{tenantId}/passes/{passId}/links", "GET /api/{tenantId}/passes/{passId}/pass.pkpass",
		"GET /api/{tenantId}/audit",
	} {
		if !slices.Contains(seen, want) {
			t.Fatalf("the router's tenant routes %v miss %s", seen, want)
		}
	}
	for _, r := range routes {
		t.Run(r.method+" "+r.template, func(t *testing.T) {
			h := h.forTest(t)
			send := func(token string) response {
				body := io.Reader(nil)
				if r.method == http.MethodPut {
					body = strings.NewReader(`{"passType":"loyalty","email":"ann@example.com"}`)
				}
				return h.do(r.method, r.path("acme"), token, body)
			}
			for _, token := range []string{"", "wrong", adminToken + "x", revoked, unknown} {
				if res := send(token); res.status != http.StatusUnauthorized {
					t.Errorf("with %q: %d %s, want 401", tenant.LogPrefix(token), res.status, res.body)
				}
			}
			if res := send(otherKey); res.status != http.StatusForbidden {
				t.Errorf("with other's key: %d %s, want 403", res.status, res.body)
			} else if r.method != http.MethodHead {
				wantError(t, res, http.StatusForbidden, "forbidden")
			}
			for name, token := range map[string]string{"acme's key": acmeKey, "the admin token": adminToken} {
				if res := send(token); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
					t.Errorf("with %s: %d %s", name, res.status, res.body)
				}
			}
		})
	}
}

func TestAPIKeys_doNotOpenTheManagementAPI(t *testing.T) {
	h := startWithTenant(t)
	key := h.createKey("acme", "crm")
	routes := routesOf(t, h.svc, func(template string) bool { return strings.HasPrefix(template, "/api/admin/") })
	if len(routes) < 5 {
		t.Fatalf("the walk found only %v", routes)
	}
	for _, r := range routes {
		res := h.do(r.method, r.path("acme"), key, strings.NewReader(`{}`))
		if res.status != http.StatusUnauthorized && res.status != http.StatusForbidden {
			t.Errorf("%s %s with acme's key: %d %s, want 401 or 403", r.method, r.path("acme"), res.status, res.body)
		}
	}
}

func TestAPIKeys_createListRevoke(t *testing.T) {
	h := startWithTenant(t)
	res := h.admin(http.MethodPost, "/api/admin/tenants/acme/keys", "")
	if res.status != http.StatusCreated {
		t.Fatalf("POST without a body: %d %s", res.status, res.body)
	}
	created := res.json(t)
	key, name := created["key"].(string), created["name"].(string)
	if !apiKeyPattern.MatchString(key) || !regexp.MustCompile(`^key-[0-9a-f]{8}$`).MatchString(name) {
		t.Fatalf("created %s", res.body)
	}
	if created["hint"] != key[len("pp_acme_"):len("pp_acme_")+8] || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created %s with Cache-Control %q", res.body, res.header.Get("Cache-Control"))
	}
	if res := h.do(http.MethodGet, "/api/acme/passes", key, nil); res.status != http.StatusOK {
		t.Fatalf("the new key: %d %s", res.status, res.body)
	}
	h.createKey("acme", "crm")
	wantError(t, h.admin(http.MethodPost, "/api/admin/tenants/acme/keys", `{"name":"crm"}`), http.StatusConflict, "api_key_exists")
	wantError(t, h.admin(http.MethodPost, "/api/admin/tenants/acme/keys", `{"name":"a b"}`), http.StatusBadRequest, "invalid_request")
	wantError(t, h.admin(http.MethodPost, "/api/admin/tenants/nobody/keys", `{}`), http.StatusNotFound, "unknown_tenant")
	wantError(t, h.admin(http.MethodGet, "/api/admin/tenants/nobody/keys", ""), http.StatusNotFound, "unknown_tenant")

	list := h.admin(http.MethodGet, "/api/admin/tenants/acme/keys", "")
	if list.status != http.StatusOK || strings.Contains(string(list.body), key[len("pp_acme_")+8:]) {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	var listed struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(list.body, &listed); err != nil || len(listed.Keys) != 2 || listed.Keys[0]["name"] != "crm" ||
		listed.Keys[1]["name"] != name || listed.Keys[1]["hint"] != created["hint"] || listed.Keys[1]["key"] != nil {
		t.Fatalf("list: %s", list.body)
	}

	// Only the key's SHA-256 is stored.
	var stored int
	if err := h.svc.DB.QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM api_keys WHERE key_hash = $1 AND tenant_id = 'acme'`, tenant.HashAPIKey(key).String()).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored hash rows: %d, %v", stored, err)
	}
	rows, err := h.svc.DB.QueryContext(context.Background(), `SELECT tenant_id, name, key_hash, prefix FROM api_keys`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cols [4]string
		if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3]); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(cols[:], " "), key[len("pp_acme_")+8:]) {
			t.Fatalf("a row holds the key: %v", cols)
		}
	}
	rows.Close()

	if res := h.admin(http.MethodDelete, "/api/admin/tenants/acme/keys/"+name, ""); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	wantError(t, h.do(http.MethodGet, "/api/acme/passes", key, nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, h.admin(http.MethodDelete, "/api/admin/tenants/acme/keys/"+name, ""), http.StatusNotFound, "unknown_api_key")
	wantError(t, h.admin(http.MethodDelete, "/api/admin/tenants/other/keys/crm", ""), http.StatusNotFound, "unknown_api_key")
}

// Keys are looked up in the database on every request: a key made on one instance works on another at once, and
// a key revoked on one is refused by another at once, whatever either has cached.
func TestAPIKeys_workAndStopOnEveryInstanceAtOnce(t *testing.T) {
	dbs := sqldbtest.Instances(t, 2)
	log := logrus.New()
	log.SetOutput(io.Discard)
	var instances [2]*service.Service
	var urls [2]string
	box := secretboxtest.Shared(t) // the instances share one database, and so one key
	for i, db := range dbs {
		svc, err := service.New(db, service.Config{Secrets: box}, logrus.NewEntry(log))
		if err != nil {
			t.Fatal(err)
		}
		handler, err := httpport.NewServer(svc.App, testConfig(), logrus.NewEntry(log))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		instances[i], urls[i] = svc, srv.URL
	}
	a, b := &harness{t: t, svc: instances[0], url: urls[0]}, &harness{t: t, svc: instances[1], url: urls[1]}
	a.addTenant("acme")
	// b reads acme, and would cache it, before the key exists.
	wantError(t, b.do(http.MethodGet, "/api/acme/passes", "pp_acme_"+strings.Repeat("0", 64), nil), http.StatusUnauthorized, "unauthorized")

	key := a.createKey("acme", "crm")
	if res := b.do(http.MethodGet, "/api/acme/passes", key, nil); res.status != http.StatusOK {
		t.Fatalf("a key made on a, on b: %d %s", res.status, res.body)
	}
	if err := instances[0].App.Commands.RevokeAPIKey.Handle(context.Background(), command.RevokeAPIKey{TenantID: "acme", Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	wantError(t, b.do(http.MethodGet, "/api/acme/passes", key, nil), http.StatusUnauthorized, "unauthorized")
}

// startWithSecurityLog is start with the service's and the server's log lines kept for the test to read.
func startWithSecurityLog(t *testing.T) (*harness, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.InfoLevel)
	svc, err := service.New(sqldbtest.New(t), service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.Run(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	handler, err := httpport.NewServer(svc.App, testConfig(), logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &harness{t: t, svc: svc, url: srv.URL}, hook
}

// securityLines returns the security log's lines with the message, each line's fields as strings.
func securityLines(hook *logtest.Hook, message string) []map[string]string {
	var out []map[string]string
	for _, e := range hook.AllEntries() {
		if e.Data["security"] != true || e.Message != message {
			continue
		}
		fields := map[string]string{}
		for k, v := range e.Data {
			b, _ := json.Marshal(v)
			fields[k] = strings.Trim(string(b), `"`)
		}
		out = append(out, fields)
	}
	return out
}

// allLogText is every log line, message and fields, as one string, to search for what must never be logged.
func allLogText(hook *logtest.Hook) string {
	var b strings.Builder
	for _, e := range hook.AllEntries() {
		line, _ := (&logrus.JSONFormatter{}).Format(e)
		b.Write(line)
	}
	return b.String()
}

func TestSecurityLog_namesRefusedKeysButNeverShowsThem(t *testing.T) {
	h, hook := startWithSecurityLog(t)
	h.addTenant("acme")
	h.addTenant("other")
	acmeKey := h.createKey("acme", "crm")
	revoked := h.createKey("acme", "old")
	h.admin(http.MethodDelete, "/api/admin/tenants/acme/keys/old", "")

	h.do(http.MethodGet, "/api/other/passes/p-1", acmeKey, nil)
	h.do(http.MethodGet, "/api/acme/audit", revoked, nil)
	h.do(http.MethodGet, "/api/admin/tenants", acmeKey, nil)

	lines := securityLines(hook, "credential refused")
	want := []struct{ tenant, route, reason, prefix string }{
		{"other", "/api/{tenantId}/passes/{passId}", "API key of another tenant", acmeKey[:8]},
		{"acme", "/api/{tenantId}/audit", "unknown or revoked API key", revoked[:8]},
		{"", "/api/admin/tenants", "API key on an admin route", acmeKey[:8]},
	}
	if len(lines) != len(want) {
		t.Fatalf("refusals logged: %v, want %d", lines, len(want))
	}
	for i, w := range want {
		l := lines[i]
		if l["tenant"] != w.tenant || l["route"] != w.route || l["reason"] != w.reason || l["key_prefix"] != w.prefix || l["client"] != "127.0.0.1" {
			t.Errorf("line %d: %v, want %+v from 127.0.0.1", i, l, w)
		}
	}
	text := allLogText(hook)
	for _, key := range []string{acmeKey, revoked} {
		if strings.Contains(text, key[8:]) {
			t.Fatalf("a log line shows more than a key's first 8 characters:\n%s", text)
		}
	}
}

func TestTenantChanges_areAuditedEventsAndLogged(t *testing.T) {
	h, hook := startWithSecurityLog(t)
	const newSecret, hookSecret = "a-new-signing-secret", "a-webhook-secret-value"
	h.putTenant("acme", `{"name":"ACME","sfmcSigningSecrets":["`+sfmcSecret+`"]}`)
	h.putTenant("acme", `{"sfmcSigningSecrets":["`+sfmcSecret+`","`+newSecret+`"],"webhook":{"url":"https://hooks.example.com/p","secret":"`+hookSecret+`"}}`)
	h.putTenant("acme", `{"name":"ACME"}`) // changes nothing: no event
	key := h.createKey("acme", "crm")
	if res := h.admin(http.MethodDelete, "/api/admin/tenants/acme/keys/crm", ""); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	if _, _, err := h.svc.App.Commands.SaveTenant.Handle(context.Background(), command.SaveTenant{
		TenantID: "acme", Changes: tenant.Changes{ActivityTimeoutMS: pointerTo(30000)}, Mode: command.UpdateOnly,
		Actor: tenant.Actor{Name: tenant.ActorCLI, Via: "passpush tenant update"},
	}); err != nil {
		t.Fatal(err)
	}

	// The changes are the tenant-acme stream, in order. The store shows events once every older transaction
	// has ended (on PostgreSQL), so the read is polled.
	wantTypes := []string{"TenantCreated", "TenantChanged", "TenantAPIKeyCreated", "TenantAPIKeyRevoked", "TenantChanged"}
	var stream []storedEvent
	eventually(t, 10*time.Second, "the tenant-acme stream", func() bool {
		stream = nil
		for _, e := range h.storedEvents() {
			if e.StreamID == "tenant-acme" {
				stream = append(stream, storedEventOf(t, e))
			}
		}
		return len(stream) >= len(wantTypes)
	})
	if len(stream) != len(wantTypes) {
		t.Fatalf("tenant-acme holds %d events, want %v", len(stream), wantTypes)
	}
	for i, e := range stream {
		if e.Type != wantTypes[i] || e.Version != i+1 || e.TenantID != "acme" {
			t.Fatalf("event %d: %s v%d of %s, want %s v%d", i, e.Type, e.Version, e.TenantID, wantTypes[i], i+1)
		}
	}

	// The audit log shows them: who, what by name, when; never a secret.
	var audited []auditEvent
	eventually(t, 10*time.Second, "the tenant's changes in the audit log", func() bool {
		audited = nil
		for _, typ := range []string{"TenantCreated", "TenantChanged", "TenantAPIKeyCreated", "TenantAPIKeyRevoked"} {
			audited = append(audited, h.auditAll("acme", "type="+typ, 100)...)
		}
		return len(audited) == len(wantTypes)
	})
	slices.SortFunc(audited, func(a, b auditEvent) int { return int(a.Position - b.Position) })
	type change struct {
		Actor   tenant.Actor `json:"actor"`
		Changes []string     `json:"changes"`
		Key     string       `json:"key"`
	}
	var got []change
	for _, e := range audited {
		if e.OccurredAt.IsZero() {
			t.Errorf("%s has no time", e.Type)
		}
		var c change
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	admin := tenant.Actor{Name: "admin token", Address: "127.0.0.1"}
	want := []change{
		{Actor: admin, Changes: []string{"name", "sfmcSigningSecrets changed (1 added, 0 removed)"}},
		{Actor: admin, Changes: []string{"sfmcSigningSecrets changed (1 added, 0 removed)", "webhook url added", "webhook secrets changed (1 added, 0 removed)"}},
		{Actor: admin, Key: "crm"},
		{Actor: admin, Key: "crm"},
		{Actor: tenant.Actor{Name: "cli", Via: "passpush tenant update"}, Changes: []string{"activity timeout"}},
	}
	for i := range want {
		if i < 4 {
			if !strings.HasPrefix(got[i].Actor.Via, "P") && !strings.HasPrefix(got[i].Actor.Via, "DELETE") {
				t.Errorf("event %d: via %q", i, got[i].Actor.Via)
			}
			got[i].Actor.Via = ""
		}
		if !slices.Equal(got[i].Changes, want[i].Changes) || got[i].Actor != want[i].Actor || got[i].Key != want[i].Key {
			t.Errorf("event %d (%s): %+v, want %+v", i, audited[i].Type, got[i], want[i])
		}
	}
	for _, e := range audited {
		for _, secret := range []string{sfmcSecret, newSecret, hookSecret, key} {
			if strings.Contains(string(e.Data), secret) {
				t.Fatalf("%s shows a secret: %s", e.Type, e.Data)
			}
		}
	}

	// The security log has a line per change, with no secret either.
	changed := securityLines(hook, "tenant changed")
	if len(changed) != 2 || changed[0]["tenant"] != "acme" || changed[0]["actor"] != "admin token" ||
		changed[0]["route"] != "PUT /api/admin/tenants/acme" || changed[0]["client"] != "127.0.0.1" || changed[1]["actor"] != "cli" {
		t.Errorf("tenant changed lines: %v", changed)
	}
	if n := len(securityLines(hook, "tenant created")) + len(securityLines(hook, "API key created")) + len(securityLines(hook, "API key revoked")); n != 3 {
		t.Errorf("%d lines for the creation and the key's creation and revocation, want 3", n)
	}
	text := allLogText(hook)
	for _, secret := range []string{newSecret, hookSecret, key[8:]} {
		if strings.Contains(text, secret) {
			t.Fatalf("the log shows a secret:\n%s", text)
		}
	}
}

func pointerTo[T any](v T) *T { return &v }

func TestTenantChanges_includeItsAppleCertificatesAndGoogleSettingsButNotTheirKeys(t *testing.T) {
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)
	h.putCertificate("acme", pki)
	key := googletest.NewKeyFile(t)
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", googleSettingsBody(t, googleIssuer, key, 0)); res.status != http.StatusOK {
		t.Fatalf("PUT google settings: %d %s", res.status, res.body)
	}
	var changes []string
	eventually(t, 10*time.Second, "the changes in the audit log", func() bool {
		changes = nil
		for _, e := range h.auditAll("acme", "type=TenantChanged", 100) {
			var c struct {
				Actor   tenant.Actor `json:"actor"`
				Changes []string     `json:"changes"`
			}
			if err := json.Unmarshal(e.Data, &c); err != nil || c.Actor.Name != "admin token" {
				t.Fatalf("%s: %+v, %v", e.Data, c, err)
			}
			noSecret(t, e.Data, pki.Pass, "")
			noGoogleKeyIn(t, "the audit log", string(e.Data), key)
			changes = append(changes, c.Changes...)
		}
		return len(changes) == 2
	})
	want := []string{"apple certificate " + appletest.PassTypeID + " set", "google settings set (issuer id, service account key, rate)"}
	if !slices.Equal(changes, want) {
		t.Fatalf("changes %q, want %q", changes, want)
	}
}
