package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

const googleIssuer = "3388000000012345678"

// logBuffer collects every log line of a service, for the tests that check what the logs never hold.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged is passpush behind a real HTTP server, with PASSPUSH_PUBLIC_URL set and its logs, at debug level,
// written to the returned buffer.
func startLogged(t *testing.T) (*harness, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetLevel(logrus.DebugLevel)
	const publicURL = "https://passpush.example.com"
	svc, err := service.New(sqldbtest.New(t), service.Config{PublicURL: publicURL, Secrets: secretboxtest.New(t)}, logrus.NewEntry(log))
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
	handler, err := httpport.NewServer(svc.App, httpport.Config{AdminToken: adminToken, PublicURL: publicURL}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &harness{t: t, svc: svc, url: srv.URL}, logs
}

// googleSettingsBody is the PUT body of settings with the key file.
func googleSettingsBody(t *testing.T, issuer string, key googletest.KeyFile, rate float64) string {
	t.Helper()
	return string(mustJSON(t, map[string]any{"issuerId": issuer, "serviceAccount": json.RawMessage(key.JSON), "rate": rate}))
}

// noGoogleKeyIn fails when text holds a line of the key file's private key.
func noGoogleKeyIn(t *testing.T, what, text string, key googletest.KeyFile) {
	t.Helper()
	for _, line := range strings.Split(key.PrivateKeyPEM, "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
			t.Fatalf("%s holds a line of the service account's key:\n%s", what, text)
		}
	}
	if strings.Contains(text, "PRIVATE KEY") {
		t.Fatalf("%s shows a key:\n%s", what, text)
	}
}

func TestGoogleSettings_refusedOrShownWithoutTheKey(t *testing.T) {
	t.Parallel()
	h, logs := startLogged(t)
	h.addTenant("acme")
	const path = "/api/admin/tenants/acme/google"
	var keys []googletest.KeyFile
	answers := ""

	wantError(t, h.admin(http.MethodGet, path, ""), http.StatusNotFound, "not_set_up")
	for name, c := range map[string]struct {
		key  googletest.KeyFile
		want string
	}{
		"EC key":          {googletest.NewKeyFile(t, googletest.ECKey(t)), "not an RSA private key"},
		"no client_email": {googletest.NewKeyFile(t, googletest.Without("client_email")), "no client_email"},
		"no token_uri":    {googletest.NewKeyFile(t, googletest.Without("token_uri")), "no token_uri"},
	} {
		keys = append(keys, c.key)
		res := h.admin(http.MethodPut, path, googleSettingsBody(t, googleIssuer, c.key, 0))
		wantError(t, res, http.StatusBadRequest, "invalid_request")
		if msg := res.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q, want it to say %q", name, msg, c.want)
		}
		answers += string(res.body)
	}

	key := googletest.NewKeyFile(t)
	keys = append(keys, key)
	// A body that breaks off inside the key, and one for an unknown tenant.
	broken := googleSettingsBody(t, googleIssuer, key, 0)
	res := h.admin(http.MethodPut, path, broken[:len(broken)/2])
	wantError(t, res, http.StatusBadRequest, "invalid_request")
	answers += string(res.body)
	res = h.admin(http.MethodPut, "/api/admin/tenants/nobody/google", googleSettingsBody(t, googleIssuer, key, 0))
	wantError(t, res, http.StatusNotFound, "unknown_tenant")
	wantError(t, h.admin(http.MethodGet, "/api/admin/tenants/nobody/google", ""), http.StatusNotFound, "unknown_tenant")
	res = h.admin(http.MethodPut, path, googleSettingsBody(t, "not-a-number", key, 0))
	wantError(t, res, http.StatusBadRequest, "invalid_request")
	answers += string(res.body)
	if res := h.do(http.MethodPut, path, "", strings.NewReader(googleSettingsBody(t, googleIssuer, key, 0))); res.status != http.StatusUnauthorized {
		t.Errorf("without the admin token: %d", res.status)
	}

	res = h.admin(http.MethodPut, path, googleSettingsBody(t, googleIssuer, key, 0))
	if res.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	answers += string(res.body)
	want := map[string]any{"issuerId": googleIssuer, "serviceAccountEmail": key.ClientEmail, "rate": float64(20)}
	for _, got := range []response{res, h.admin(http.MethodGet, path, "")} {
		answers += string(got.body)
		if m := got.json(t); len(m) != len(want) || m["issuerId"] != want["issuerId"] || m["serviceAccountEmail"] != want["serviceAccountEmail"] || m["rate"] != want["rate"] {
			t.Errorf("settings %s, want %v", got.body, want)
		}
	}
	// The key file may also come as a string, and a rate replaces the default.
	body := string(mustJSON(t, map[string]any{"issuerId": googleIssuer, "serviceAccount": string(key.JSON), "rate": 7}))
	if res := h.admin(http.MethodPut, path, body); res.status != http.StatusOK || res.json(t)["rate"] != float64(7) {
		t.Errorf("key file as a string: %d %s", res.status, res.body)
	}
	answers += string(h.admin(http.MethodGet, "/api/admin/tenants/acme", "").body)
	answers += string(h.admin(http.MethodGet, "/api/admin/tenants", "").body)

	for _, k := range keys {
		noGoogleKeyIn(t, "an answer", answers, k)
		noGoogleKeyIn(t, "the log", logs.String(), k)
	}
	if logs.String() == "" {
		t.Error("no log lines were captured")
	}
}

func TestGoogleClasses_checkedAgainstTheTenantsIssuer(t *testing.T) {
	t.Parallel()
	h := startWithTenant(t)
	const path = "/api/admin/tenants/acme/google/classes/loyalty"
	class := func(objectType, classID, template string) string {
		return `{"objectType":"` + objectType + `","classId":"` + classID + `","template":` + template + `}`
	}
	good := class("loyalty", googleIssuer+".acme_loyalty", `{"state":"ACTIVE","accountName":"{{email}}"}`)

	res := h.admin(http.MethodPut, path, good)
	wantError(t, res, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(string(res.body), "no Google settings") {
		t.Errorf("before the settings: %s", res.body)
	}
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", googleSettingsBody(t, googleIssuer, googletest.NewKeyFile(t), 0)); res.status != http.StatusOK {
		t.Fatalf("PUT settings: %d %s", res.status, res.body)
	}
	for name, c := range map[string]struct{ body, want string }{
		"object type":       {class("boardingPass", googleIssuer+".x", `{}`), "objectType"},
		"another issuer":    {class("loyalty", "1234.acme_loyalty", `{}`), "must start with the tenant's issuer id"},
		"no suffix":         {class("loyalty", googleIssuer+".", `{}`), "only letters, digits"},
		"template id":       {class("loyalty", googleIssuer+".x", `{"id":"1"}`), `must not have \"id\"`},
		"template classId":  {class("loyalty", googleIssuer+".x", `{"classId":"1"}`), `must not have \"classId\"`},
		"template a list":   {class("loyalty", googleIssuer+".x", `[]`), "must be a JSON object"},
		"template a string": {class("loyalty", googleIssuer+".x", `"{}"`), "must be a JSON object"},
		"no template":       {`{"objectType":"loyalty","classId":"` + googleIssuer + `.x"}`, "template"},
		"malformed":         {`{"objectType":`, "malformed JSON"},
	} {
		res := h.admin(http.MethodPut, path, c.body)
		if res.status != http.StatusBadRequest || res.errorCode(t) != "invalid_request" || !strings.Contains(string(res.body), c.want) {
			t.Errorf("%s: %d %s, want 400 invalid_request saying %s", name, res.status, res.body, c.want)
		}
	}
	wantError(t, h.admin(http.MethodPut, "/api/admin/tenants/nobody/google/classes/loyalty", good), http.StatusNotFound, "unknown_tenant")

	res = h.admin(http.MethodPut, path, good)
	if res.status != http.StatusOK {
		t.Fatalf("good class: %d %s", res.status, res.body)
	}
	if m := res.json(t); m["passType"] != "loyalty" || m["objectType"] != "loyalty" || m["classId"] != googleIssuer+".acme_loyalty" {
		t.Errorf("answer %s", res.body)
	}
	// A put replaces the class.
	if res := h.admin(http.MethodPut, path, class("generic", googleIssuer+".acme_generic", `{"cardTitle":{"defaultValue":{"language":"en","value":"Acme"}}}`)); res.status != http.StatusOK {
		t.Fatalf("replace: %d %s", res.status, res.body)
	}
}

func TestInstallLinks_addTheGoogleLinkWhenTheTenantHasAClassForThePassType(t *testing.T) {
	t.Parallel()
	h, logs := startLogged(t)
	h.addTenant("acme")
	key := googletest.NewKeyFile(t)
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", googleSettingsBody(t, googleIssuer, key, 0)); res.status != http.StatusOK {
		t.Fatalf("PUT settings: %d %s", res.status, res.body)
	}
	template := `{"state":"ACTIVE","accountId":"{{customId}}","loyaltyPoints":{"label":"Points","balance":{"string":"{{points}}"}},` +
		`"textModulesData":[{"id":"tier","header":"Tier","body":"none"}]}`
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google/classes/loyalty",
		`{"objectType":"loyalty","classId":"`+googleIssuer+`.acme_loyalty","template":`+template+`}`); res.status != http.StatusOK {
		t.Fatalf("PUT class: %d %s", res.status, res.body)
	}
	h.putPass("acme", "ann@example.com", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"120","tier":"gold","offer":"2 for 1"}}`)
	h.putPass("acme", "p-2", `{"passType":"coupon","data":{}}`)

	res := h.admin(http.MethodPost, "/api/acme/passes/ann@example.com/links", "")
	if res.status != http.StatusCreated {
		t.Fatalf("POST links: %d %s", res.status, res.body)
	}
	links := res.json(t)
	if a, _ := links["apple"].(string); !strings.HasPrefix(a, "https://passpush.example.com/api/acme/apple/passes/") {
		t.Errorf("apple link %v", links["apple"])
	}
	link, _ := links["google"].(string)
	signed, ok := strings.CutPrefix(link, "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("google link %q", link)
	}
	noGoogleKeyIn(t, "the links", string(res.body), key)
	noGoogleKeyIn(t, "the log", logs.String(), key)

	claims := jwt.MapClaims{}
	token, err := jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return &key.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(key.ClientEmail), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("the link's JWT does not verify with the public half of the test key: %v", err)
	}
	if token.Header["alg"] != "RS256" || claims["typ"] != "savetowallet" || claims["iat"] == nil {
		t.Errorf("header %v claims %v", token.Header, claims)
	}
	if o, _ := claims["origins"].([]any); len(o) != 1 || o[0] != "https://passpush.example.com" {
		t.Errorf("origins %v", claims["origins"])
	}
	payload, _ := claims["payload"].(map[string]any)
	objects, _ := payload["loyaltyObjects"].([]any)
	if len(payload) != 1 || len(objects) != 1 {
		t.Fatalf("payload %v", payload)
	}
	obj := objects[0].(map[string]any)
	got, _ := json.Marshal(obj)
	want := `{"accountId":"c-1","classId":"` + googleIssuer + `.acme_loyalty","id":"` + googleIssuer + `.acme_ann_example.com",` +
		`"loyaltyPoints":{"balance":{"string":"120"},"label":"Points"},"state":"ACTIVE",` +
		`"textModulesData":[{"body":"gold","header":"tier","id":"tier"},{"body":"2 for 1","header":"offer","id":"offer"}]}`
	if string(got) != want {
		t.Errorf("object\n got %s\nwant %s", got, want)
	}

	// A pass whose type has no class gets the Apple link only.
	res = h.admin(http.MethodPost, "/api/acme/passes/p-2/links", "")
	if res.status != http.StatusCreated {
		t.Fatalf("POST links of p-2: %d %s", res.status, res.body)
	}
	if _, has := res.json(t)["google"]; has {
		t.Errorf("a pass type without a class got a google link: %s", res.body)
	}
}
