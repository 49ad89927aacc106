package service_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	httpport "github.com/passpush/passpush/ports/http"
)

const (
	examplePublicURL = "https://passpush.example.com"
	activityBase     = "/api/acme" + httpport.SFMCBasePath
)

// activitySettings are the tenant settings that config.json shows.
type activitySettings struct {
	key                                                 string
	timeout, retryCount, retryDelay, concurrentRequests float64
}

// checkActivityConfig checks config.json against Journey Builder's documented fields and ranges (its custom
// activity config.json reference) and against the tenant's settings. It returns the document for further checks.
func checkActivityConfig(t *testing.T, res response, base string, want activitySettings) map[string]any {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("config.json: %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if o := res.header.Get("Access-Control-Allow-Origin"); o != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q: Journey Builder's origin could not read config.json", o)
	}
	c := res.json(t)
	get := func(path string) any {
		t.Helper()
		var v any = c
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("config.json: %s: %v is not an object", path, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("config.json has no %s: %s", path, res.body)
			}
		}
		return v
	}
	equal := func(path string, want any) {
		t.Helper()
		if got := get(path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	inRange := func(path string, lo, hi float64) float64 {
		t.Helper()
		v, ok := get(path).(float64)
		if !ok || v < lo || v > hi || v != float64(int(v)) {
			t.Errorf("%s = %v, want a whole number from %v to %v", path, get(path), lo, hi)
		}
		return v
	}

	equal("workflowApiVersion", "1.1")
	equal("type", "REST")
	equal("key", want.key)
	equal("lang.en-US.name", "Update wallet pass")
	if d, _ := get("lang.en-US.description").(string); d == "" {
		t.Error("lang.en-US.description is empty")
	}
	equal("metaData.icon", base+"/icon.svg")
	equal("metaData.category", "message")
	equal("metaData.isConfigured", false)

	equal("arguments.execute.url", base+"/execute")
	equal("arguments.execute.useJwt", true)
	equal("arguments.execute.timeout", want.timeout)
	equal("arguments.execute.retryCount", want.retryCount)
	equal("arguments.execute.retryDelay", want.retryDelay)
	equal("arguments.execute.concurrentRequests", want.concurrentRequests)
	inRange("arguments.execute.timeout", 1000, 100000)
	inRange("arguments.execute.retryCount", 0, 5)
	inRange("arguments.execute.retryDelay", 0, 10000)
	inRange("arguments.execute.concurrentRequests", 1, 50)
	equal("arguments.execute.inArguments", []any{map[string]any{"email": "{{InteractionDefaults.Email}}"}})
	equal("arguments.execute.outArguments", []any{map[string]any{"status": ""}, map[string]any{"passes": 0.0}})

	stages := get("configurationArguments").(map[string]any)
	for _, stage := range []string{"save", "validate", "publish", "stop", "unpublish"} {
		equal("configurationArguments."+stage, map[string]any{"url": base + "/" + stage, "useJwt": true})
	}
	if len(stages) != 5 {
		t.Errorf("configurationArguments = %v, want exactly save, validate, publish, stop and unpublish", stages)
	}

	equal("userInterfaces.configModal.url", "index.html")
	inRange("userInterfaces.configModal.height", 200, 2000)
	inRange("userInterfaces.configModal.width", 300, 2000)

	// Every in- and out-argument is described with a data type and a direction.
	schema := get("schema.arguments.execute").(map[string]any)
	described := map[string]map[string]any{}
	for _, dir := range []string{"inArguments", "outArguments"} {
		for _, item := range schema[dir].([]any) {
			for name, v := range item.(map[string]any) {
				d := v.(map[string]any)
				if d["direction"] != strings.TrimSuffix(dir, "Arguments") {
					t.Errorf("schema %s.%s has direction %v", dir, name, d["direction"])
				}
				described[name] = d
			}
		}
	}
	for name, dataType := range map[string]string{
		"email": "Text", "customId": "Text", "passId": "Text", "passType": "Text", "additionalData": "Text", "message": "Text",
		"status": "Text", "passes": "Number",
	} {
		if d := described[name]; d == nil || d["dataType"] != dataType {
			t.Errorf("schema describes %s as %v, want dataType %s", name, d, dataType)
		}
	}
	if described["status"]["access"] != "visible" || described["passes"]["access"] != "visible" {
		t.Errorf("out-arguments must be visible to later activities: %v %v", described["status"], described["passes"])
	}
	return c
}

func TestActivityConfig_describesTheTenantsActivityWithDefaults(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken, PublicURL: examplePublicURL + "/"})
	h.addTenant("acme")

	res := h.do(http.MethodGet, activityBase+"/config.json", "", nil)
	checkActivityConfig(t, res, examplePublicURL+activityBase, activitySettings{
		key: "", timeout: 20000, retryCount: 3, retryDelay: 1000, concurrentRequests: 5,
	})
}

func TestActivityConfig_followsTheTenantsSettings(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken, PublicURL: examplePublicURL})
	put := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"sfmcSigningSecrets":["sfmc-secret-of-acme"],"activity":{"key":"passpush-acme-push","timeout":100000,"retryCount":0,"retryDelay":10000,"concurrentRequests":50}}`)
	if put.status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", put.status, put.body)
	}
	res := h.do(http.MethodGet, activityBase+"/config.json", "", nil)
	checkActivityConfig(t, res, examplePublicURL+activityBase, activitySettings{
		key: "passpush-acme-push", timeout: 100000, retryCount: 0, retryDelay: 10000, concurrentRequests: 50,
	})

	update := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"activity":{"timeout":1000,"retryCount":5,"retryDelay":0,"concurrentRequests":1}}`)
	if update.status != http.StatusOK {
		t.Fatalf("update tenant: %d %s", update.status, update.body)
	}
	res = h.do(http.MethodGet, activityBase+"/config.json", "", nil)
	checkActivityConfig(t, res, examplePublicURL+activityBase, activitySettings{
		key: "passpush-acme-push", timeout: 1000, retryCount: 5, retryDelay: 0, concurrentRequests: 1,
	})

	for _, bad := range []string{`{"timeout":999}`, `{"timeout":100001}`, `{"retryCount":6}`, `{"retryDelay":10001}`, `{"concurrentRequests":0}`} {
		if res := h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"activity":`+bad+`}`); res.status != http.StatusBadRequest {
			t.Errorf("activity %s out of Journey Builder's range: got %d %s, want 400", bad, res.status, res.body)
		}
	}
}

// Every URL config.json names is one the server answers, so Journey Builder finds what it is told to call.
func TestActivityConfig_urlsReachTheActivitysRoutes(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken})
	h.addTenant("acme")
	c := h.do(http.MethodGet, activityBase+"/config.json", "", nil).json(t)
	base := h.url + activityBase
	local := func(u string) string {
		t.Helper()
		if !strings.HasPrefix(u, base+"/") {
			t.Fatalf("URL %q is not under the activity's base %s", u, base)
		}
		return strings.TrimPrefix(u, h.url)
	}
	icon := h.do(http.MethodGet, local(c["metaData"].(map[string]any)["icon"].(string)), "", nil)
	if icon.status != http.StatusOK || icon.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("icon: %d %s", icon.status, icon.header.Get("Content-Type"))
	}
	modal := c["userInterfaces"].(map[string]any)["configModal"].(map[string]any)["url"].(string)
	if page := h.do(http.MethodGet, activityBase+"/"+modal, "", nil); page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Errorf("config modal %s: %d %s", modal, page.status, page.header.Get("Content-Type"))
	}
	for stage, v := range c["configurationArguments"].(map[string]any) {
		u := v.(map[string]any)["url"].(string)
		res := h.do(http.MethodPost, local(u), "", strings.NewReader(`{"activityObjectID":"a","interactionId":"i","originalDefinitionId":"d","interactionKey":"k","interactionVersion":"1"}`))
		if res.status != http.StatusOK {
			t.Errorf("%s %s: %d %s", stage, u, res.status, res.body)
		}
	}
	execute := c["arguments"].(map[string]any)["execute"].(map[string]any)["url"].(string)
	if res := h.do(http.MethodPost, local(execute), "", strings.NewReader("not a jwt")); res.status != http.StatusBadRequest {
		t.Errorf("execute %s without a JWT: %d %s, want 400", execute, res.status, res.body)
	}
}

// executeURLWith fetches config.json with the given headers and returns its execute URL and its Vary header.
func executeURLWith(t *testing.T, h *harness, headers map[string]string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+activityBase+"/config.json", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	var c struct {
		Arguments struct{ Execute struct{ URL string } }
	}
	if err := json.NewDecoder(got.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c.Arguments.Execute.URL, got.Header.Get("Vary")
}

var proxyHeaders = map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "jb.example.org, internal:8080"}

func TestActivityConfig_withoutPublicURLUsesTheRequestsHost(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken})
	h.addTenant("acme")

	res := h.do(http.MethodGet, activityBase+"/config.json", "", nil)
	checkActivityConfig(t, res, h.url+activityBase, activitySettings{timeout: 20000, retryCount: 3, retryDelay: 1000, concurrentRequests: 5})

	// Issue 13 §7: the test's client is not a trusted proxy, so what it claims in forwarded headers is ignored.
	for _, headers := range []map[string]string{proxyHeaders, {"Forwarded": `proto=https;host="evil.example.org"`}} {
		if got, _ := executeURLWith(t, h, headers); got != h.url+activityBase+"/execute" {
			t.Fatalf("forwarded headers %v from an untrusted peer made the execute url %q", headers, got)
		}
	}
}

func TestActivityConfig_behindATrustedProxyUsesItsForwardedHeaders(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	h.addTenant("acme")
	got, vary := executeURLWith(t, h, proxyHeaders)
	if want := "https://jb.example.org" + activityBase + "/execute"; got != want {
		t.Fatalf("behind a proxy, execute url = %q, want %q", got, want)
	}
	if !strings.Contains(vary, "X-Forwarded-Host") || !strings.Contains(vary, "X-Forwarded-Proto") || !strings.Contains(vary, "Forwarded") {
		t.Fatalf("Vary = %q: a shared cache could hand one caller's URLs to another", vary)
	}
	got, _ = executeURLWith(t, h, map[string]string{"Forwarded": `for=192.0.2.60;proto=https;host="jb.example.net", for=10.0.0.1`})
	if want := "https://jb.example.net" + activityBase + "/execute"; got != want {
		t.Fatalf("behind a proxy that sets Forwarded, execute url = %q, want %q", got, want)
	}
}

func TestActivityConfig_answersCORSPreflight(t *testing.T) {
	h := startWithTenant(t)
	req, _ := http.NewRequest(http.MethodOptions, h.url+activityBase+"/config.json", nil)
	req.Header.Set("Origin", "https://jb-prod.exacttarget.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
}

func TestActivityConfig_unknownTenantIs404(t *testing.T) {
	h := startWithTenant(t)
	for _, path := range []string{
		"/api/nobody" + httpport.SFMCBasePath + "/config.json",
		"/api/nobody" + httpport.SFMCBasePath + "/index.html",
		"/api/nobody" + httpport.SFMCBasePath + "/",
	} {
		res := h.do(http.MethodGet, path, "", nil)
		if res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
			t.Errorf("GET %s: %d %s, want 404 unknown_tenant", path, res.status, res.body)
		}
	}
}

func TestActivityConfig_isRevalidatedWithItsETag(t *testing.T) {
	h := startWithTenant(t)
	first := h.do(http.MethodGet, activityBase+"/config.json", "", nil)
	etag := first.header.Get("ETag")
	if etag == "" || first.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("config.json caching headers: %v", first.header)
	}
	req, _ := http.NewRequest(http.MethodGet, h.url+activityBase+"/config.json", nil)
	req.Header.Set("If-None-Match", etag)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("unchanged config.json with If-None-Match: %d, want 304", res.StatusCode)
	}
	h.admin(http.MethodPut, "/api/admin/tenants/acme", `{"activity":{"key":"changed"}}`)
	if changed := h.do(http.MethodGet, activityBase+"/config.json", "", nil); changed.header.Get("ETag") == etag {
		t.Fatal("a changed setting must change config.json's ETag")
	}
}
