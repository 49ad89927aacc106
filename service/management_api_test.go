package service_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	httpport "github.com/passpush/passpush/ports/http"
)

func TestPutPass_thenGetRoundTrips(t *testing.T) {
	h := startWithTenant(t)

	put := h.admin(http.MethodPut, "/api/acme/passes/p-1", `{"passType":"loyalty","email":"Ann@Example.com","customId":"c-1","data":{"points":"10","tier":"gold"}}`)
	if put.status != http.StatusCreated {
		t.Fatalf("first PUT: got %d %s, want 201", put.status, put.body)
	}
	get := h.admin(http.MethodGet, "/api/acme/passes/p-1", "")
	if get.status != http.StatusOK {
		t.Fatalf("GET: got %d %s", get.status, get.body)
	}
	p := get.json(t)
	if p["passId"] != "p-1" || p["passType"] != "loyalty" || p["email"] != "Ann@Example.com" || p["customId"] != "c-1" || p["version"] != 1.0 {
		t.Fatalf("GET returned %s", get.body)
	}
	if data := p["data"].(map[string]any); data["points"] != "10" || data["tier"] != "gold" {
		t.Fatalf("data = %v", data)
	}
	if _, ok := p["updatedAt"].(string); !ok {
		t.Fatalf("updatedAt missing in %s", get.body)
	}

	update := h.admin(http.MethodPut, "/api/acme/passes/p-1", `{"passType":"loyalty","email":"ann@example.com","data":{"points":25}}`)
	if update.status != http.StatusOK {
		t.Fatalf("second PUT: got %d %s, want 200", update.status, update.body)
	}
	p = h.admin(http.MethodGet, "/api/acme/passes/p-1", "").json(t)
	if p["version"] != 2.0 || p["data"].(map[string]any)["points"] != "25" || p["customId"] != "" {
		t.Fatalf("after update GET returned %v", p)
	}

	same := h.admin(http.MethodPut, "/api/acme/passes/p-1", `{"passType":"loyalty","email":"ann@example.com","data":{"points":"25"}}`)
	if same.status != http.StatusOK || same.json(t)["version"] != 2.0 {
		t.Fatalf("repeating the same PUT must change nothing: got %d %s", same.status, same.body)
	}
}

func TestFindPasses_matchesEmailCaseInsensitivelyAndPages(t *testing.T) {
	h := startWithTenant(t)
	h.addTenant("other")
	for _, p := range []struct{ tenant, id, body string }{
		{"acme", "a", `{"passType":"loyalty","email":"Ann@Example.com","customId":"c1"}`},
		{"acme", "b", `{"passType":"coupon","email":"ann@example.COM"}`},
		{"acme", "c", `{"passType":"loyalty","email":"bob@example.com","customId":"c1"}`},
		{"other", "d", `{"passType":"loyalty","email":"ann@example.com"}`},
	} {
		if res := h.admin(http.MethodPut, "/api/"+p.tenant+"/passes/"+p.id, p.body); res.status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", p.id, res.status, res.body)
		}
	}
	ids := func(path string) (got []string, next any) {
		t.Helper()
		res := h.admin(http.MethodGet, path, "")
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
		body := res.json(t)
		for _, p := range body["passes"].([]any) {
			got = append(got, p.(map[string]any)["passId"].(string))
		}
		return got, body["next"]
	}
	for path, want := range map[string]string{
		"/api/acme/passes?email=ANN@example.com":                 "a,b",
		"/api/acme/passes?email=ann@example.com&passType=coupon": "b",
		"/api/acme/passes?customId=c1":                           "a,c",
		"/api/acme/passes?email=nobody@example.com":              "",
		"/api/other/passes?email=ann@example.com":                "d",
	} {
		got, _ := ids(path)
		if strings.Join(got, ",") != want {
			t.Errorf("GET %s = %v, want %s", path, got, want)
		}
	}
	page1, next := ids("/api/acme/passes?limit=2")
	if strings.Join(page1, ",") != "a,b" || next != "b" {
		t.Fatalf("page 1 = %v next %v", page1, next)
	}
	page2, next := ids("/api/acme/passes?limit=2&after=b")
	if strings.Join(page2, ",") != "c" || next != nil {
		t.Fatalf("page 2 = %v next %v", page2, next)
	}
}

func TestTenantAPI_createsUpdatesAndNeverShowsSecrets(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken})
	created := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"name":"Acme","sfmcSigningSecrets":["sfmc-secret-of-acme-1","sfmc-secret-of-acme-2"],"webhook":{"url":"https://hooks.example.com/x","secret":"whsec"}}`)
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	updated := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"sfmcSigningSecrets":["sfmc-secret-of-acme-3"]}`)
	if updated.status != http.StatusOK {
		t.Fatalf("update: %d %s", updated.status, updated.body)
	}
	body := updated.json(t)
	if body["name"] != "Acme" || body["sfmcSigningSecrets"] != 1.0 || body["webhook"].(map[string]any)["secretSet"] != true {
		t.Fatalf("update kept the wrong fields: %s", updated.body)
	}
	list := h.admin(http.MethodGet, "/api/admin/tenants", "")
	for _, secret := range []string{"s1", "s2", "s3", "whsec"} {
		for _, res := range []response{created, updated, list} {
			if bytes.Contains(res.body, []byte(`"`+secret+`"`)) {
				t.Fatalf("a response shows secret %q: %s", secret, res.body)
			}
		}
	}
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"disabled":true}`); res.status != http.StatusOK {
		t.Fatalf("disable: %d %s", res.status, res.body)
	}
	if res := h.admin(http.MethodGet, "/api/acme/passes", ""); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Fatalf("a disabled tenant must be unknown: %d %s", res.status, res.body)
	}
}

func TestErrors_answerWithStatusAndStableCode(t *testing.T) {
	h := startWithTenant(t)
	if res := h.admin(http.MethodPut, "/api/acme/passes/exists", `{"passType":"loyalty"}`); res.status != http.StatusCreated {
		t.Fatalf("setup PUT: %d %s", res.status, res.body)
	}
	big := `{"passType":"loyalty","data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", http.MethodGet, "/api/acme/passes/exists", "", "", 401, "unauthorized"},
		{"wrong token", http.MethodGet, "/api/acme/passes/exists", "nope", "", 401, "unauthorized"},
		{"token prefix", http.MethodGet, "/api/acme/passes/exists", adminToken[:4], "", 401, "unauthorized"},
		{"admin route without token", http.MethodGet, "/api/admin/tenants", "", "", 401, "unauthorized"},
		{"unknown tenant", http.MethodGet, "/api/nobody/passes/exists", adminToken, "", 404, "unknown_tenant"},
		{"invalid tenant id", http.MethodGet, "/api/no%20body/passes/x", adminToken, "", 404, "unknown_tenant"},
		{"unknown pass", http.MethodGet, "/api/acme/passes/missing", adminToken, "", 404, "not_found"},
		{"unknown route", http.MethodGet, "/nothing/here", "", "", 404, "not_found"},
		{"wrong method", http.MethodDelete, "/api/acme/passes/exists", adminToken, "", 405, "method_not_allowed"},
		{"malformed JSON", http.MethodPut, "/api/acme/passes/p", adminToken, `{"passType":`, 400, "invalid_request"},
		{"not an object", http.MethodPut, "/api/acme/passes/p", adminToken, `[1,2]`, 400, "invalid_request"},
		{"empty body", http.MethodPut, "/api/acme/passes/p", adminToken, ``, 400, "invalid_request"},
		{"trailing garbage", http.MethodPut, "/api/acme/passes/p", adminToken, `{"passType":"x"} {}`, 400, "invalid_request"},
		{"missing passType", http.MethodPut, "/api/acme/passes/p", adminToken, `{"email":"a@b.c"}`, 400, "invalid_request"},
		{"bad data value", http.MethodPut, "/api/acme/passes/p", adminToken, `{"passType":"x","data":{"a":{"b":1}}}`, 400, "invalid_request"},
		{"bad email", http.MethodPut, "/api/acme/passes/p", adminToken, `{"passType":"x","email":"nope"}`, 400, "invalid_request"},
		{"bad pass id", http.MethodPut, "/api/acme/passes/bad%20id", adminToken, `{"passType":"x"}`, 400, "invalid_request"},
		{"bad limit", http.MethodGet, "/api/acme/passes?limit=0", adminToken, "", 400, "invalid_request"},
		{"body over 1 MiB", http.MethodPut, "/api/acme/passes/p", adminToken, big, 413, "body_too_large"},
		{"tenant without secret", http.MethodPut, "/api/admin/tenants/new", adminToken, `{"name":"x"}`, 400, "invalid_request"},
		{"reserved tenant id", http.MethodPut, "/api/admin/tenants/admin", adminToken, `{"sfmcSigningSecrets":["sfmc-secret-of-admin"]}`, 400, "invalid_request"},
		{"webhook without secret", http.MethodPut, "/api/admin/tenants/new", adminToken, `{"sfmcSigningSecrets":["sfmc-secret-of-new"],"webhook":{"url":"https://x.example"}}`, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := h.do(c.method, c.path, c.token, strings.NewReader(c.body))
			if res.status != c.status || res.errorCode(t) != c.code {
				t.Fatalf("got %d %s, want %d %s", res.status, res.body, c.status, c.code)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
		})
	}
}

func TestManagementAPI_withoutAdminTokenAnswers401(t *testing.T) {
	h := start(t, httpport.Config{})
	h.addTenant("acme")
	for _, token := range []string{"", "anything"} {
		res := h.do(http.MethodGet, "/api/acme/passes", token, nil)
		if res.status != http.StatusUnauthorized || res.errorCode(t) != "unauthorized" {
			t.Fatalf("token %q: got %d %s", token, res.status, res.body)
		}
	}
}

func TestStoreDown_answers503StoreUnavailable(t *testing.T) {
	h := startWithTenant(t)
	if err := h.svc.DB.Close(); err != nil {
		t.Fatal(err)
	}
	res := h.admin(http.MethodPut, "/api/acme/passes/p", `{"passType":"loyalty"}`)
	if res.status != http.StatusServiceUnavailable || res.errorCode(t) != "store_unavailable" {
		t.Fatalf("got %d %s", res.status, res.body)
	}
}

func TestHealthz(t *testing.T) {
	h := start(t, httpport.Config{})
	if res := h.do(http.MethodGet, "/healthz", "", nil); res.status != http.StatusOK {
		t.Fatalf("healthz: %d", res.status)
	}
}
