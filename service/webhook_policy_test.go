package service_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/service"
)

// webhookFixture is acme with its webhook at url and the pass p-1, on a service with the given config.
func webhookFixture(t *testing.T, config service.Config, url string) (*harness, *journeyBuilder) {
	t.Helper()
	h := startService(t, config)
	h.putTenant("acme", fmt.Sprintf(`{"sfmcSigningSecrets":[%q],"webhook":{"url":%q,"secret":%q}}`, sfmcSecret, url, webhookSecret))
	h.importPasses("acme", []command.RegisterPass{loyaltyPass("p-1", "owner1@example.com", "")})
	return h, newJourneyBuilder(h)
}

// strictWebhooks is the production policy with the loopback range opened, so that https:// to a local port is
// allowed and http:// is not.
func strictWebhooks(config service.Config) service.Config {
	config.Webhook = webhook.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	return config
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestWebhookPolicy_refusesURLsAtSaveWithA400(t *testing.T) {
	strict := startService(t, strictWebhooks(service.Config{}))
	dev := startService(t, service.Config{Webhook: webhook.Config{AllowInsecure: true}})
	for _, c := range []struct {
		name    string
		h       *harness
		url     string
		message string // in the 400's message; empty means the URL is taken
	}{
		{"http in production", strict, "http://127.0.0.1:8080/hook", "must be https"},
		{"https", strict, "https://hooks.example.com/hook", ""},
		{"a private address literal", strict, "https://10.0.0.5/hook", "webhook address 10.0.0.5 is private"},
		{"the metadata service", strict, "https://169.254.169.254/latest", "is link-local"},
		{"http to loopback in development", dev, "http://localhost:8080/hook", ""},
		{"http elsewhere in development", dev, "http://hooks.example.com/hook", "only for a loopback host"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.h.forTest(t).admin(http.MethodPut, "/api/admin/tenants/acme",
				fmt.Sprintf(`{"sfmcSigningSecrets":[%q],"webhook":{"url":%q,"secret":"whsec"}}`, sfmcSecret, c.url))
			if c.message == "" {
				if res.status != http.StatusOK && res.status != http.StatusCreated {
					t.Fatalf("PUT: %d %s, want the URL taken", res.status, res.body)
				}
				return
			}
			wantError(t, res, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(string(res.body), c.message) {
				t.Errorf("400 body %s does not say %q", res.body, c.message)
			}
		})
	}
}

// localhost resolves to the loopback address: the name is allowed at save, and the address is refused when
// dialled, with the reason in the outcome. A name whose DNS answer changes to an internal address meets the
// same check.
func TestWebhookPolicy_refusesALoopbackAddressAtConnectTime(t *testing.T) {
	rcv := newReceiver(t, webhookSecret)
	url := strings.Replace(rcv.server.URL, "127.0.0.1", "localhost", 1)
	config := fastRetries(3)
	config.Webhook = webhook.Config{AllowInsecure: true} // no allowed range
	h, jb := webhookFixture(t, config, url)
	jb.schedule("p-1", "entry-1")
	o := h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateFailed" || !strings.Contains(o.reason, "is loopback") {
		t.Fatalf("%s with reason %q, want PushUpdateFailed saying the address is loopback", o.typ, o.reason)
	}
	if r := o.webhookResult(t); r["attempts"] != 1.0 {
		t.Errorf("a refused address is final, yet the result is %v", r)
	}
	if n := rcv.delivered(); n != 0 {
		t.Errorf("the receiver got %d deliveries", n)
	}
}

func TestWebhookPolicy_aRedirectIsNotFollowed(t *testing.T) {
	target := newReceiver(t, webhookSecret)
	redirector := newReceiver(t, webhookSecret)
	redirector.server.Config.Handler = http.RedirectHandler(target.server.URL, http.StatusFound)
	h, jb := webhookFixture(t, fastRetries(3), redirector.server.URL)
	jb.schedule("p-1", "entry-1")
	o := h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateFailed" || o.reason == "" || !strings.Contains(o.reason, "webhook answered 302; redirects are not followed") {
		t.Fatalf("%s with reason %q, want PushUpdateFailed: webhook answered 302; redirects are not followed", o.typ, o.reason)
	}
	if r := o.webhookResult(t); r["attempts"] != 1.0 {
		t.Errorf("a redirect is final, yet the result is %v", r)
	}
	if n := target.delivered(); n != 0 {
		t.Errorf("the redirect's target got %d deliveries", n)
	}
}

// A webhook URL stored before the policy (here written around the command) is refused when pushed to.
func TestWebhookPolicy_refusesAStoredURLThatBreaksItAtPushTime(t *testing.T) {
	config := strictWebhooks(fastRetries(3))
	config.Secrets = secretboxtest.New(t)
	h, jb := webhookFixture(t, config, "https://hooks.example.com/hook")
	store, err := credentials.NewStore(h.svc.DB, config.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	data, err := credentials.EncodeWebhook(credentials.Webhook{URL: "http://hooks.example.com/hook", Secrets: []string{webhookSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), "acme", credentials.KindWebhook, credentials.DefaultName, data); err != nil {
		t.Fatal(err)
	}
	jb.schedule("p-1", "entry-1")
	if o := h.outcomeOf("p-1", "entry-1"); o.typ != "PushUpdateFailed" || !strings.Contains(o.reason, "must be https") {
		t.Fatalf("%s with reason %q, want PushUpdateFailed: must be https", o.typ, o.reason)
	}
}

// The admin API adds a secret with webhook.secret and removes one with webhook.retireSecret; every delivery is
// signed with each secret kept, so a receiver with either accepts it during the rotation.
func TestWebhookSecrets_rotateThroughTheAdminAPI(t *testing.T) {
	config := fastRetries(3)
	config.Secrets = secretboxtest.New(t)
	h, jb, rcv := deliveryFixture(t, config, 2)
	const newSecret = "whsec-rotated"
	added := h.admin(http.MethodPut, "/api/admin/tenants/acme", fmt.Sprintf(`{"webhook":{"secret":%q}}`, newSecret))
	if added.status != http.StatusOK || added.json(t)["webhook"].(map[string]any)["secrets"] != 2.0 {
		t.Fatalf("add a secret: %d %s, want 2 secrets", added.status, added.body)
	}
	// Nothing was pushed yet, so the channel reads both secrets on its first push.
	jb.schedule("p-1", "entry-old-receiver")
	if o := h.outcomeOf("p-1", "entry-old-receiver"); o.typ != "PushUpdateEmitted" {
		t.Fatalf("a receiver with the old secret: %s (%s)", o.typ, o.reason)
	}
	rcv.configure(func(r *receiver) { r.secret = newSecret })
	jb.schedule("p-2", "entry-new-receiver")
	if o := h.outcomeOf("p-2", "entry-new-receiver"); o.typ != "PushUpdateEmitted" {
		t.Fatalf("a receiver with the new secret: %s (%s)", o.typ, o.reason)
	}

	retired := h.admin(http.MethodPut, "/api/admin/tenants/acme", fmt.Sprintf(`{"webhook":{"retireSecret":%q}}`, webhookSecret))
	if retired.status != http.StatusOK || retired.json(t)["webhook"].(map[string]any)["secrets"] != 1.0 {
		t.Fatalf("retire the old secret: %d %s, want 1 secret", retired.status, retired.body)
	}
	store, err := credentials.NewStore(h.svc.DB, config.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.Get(context.Background(), "acme", credentials.KindWebhook, credentials.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := credentials.DecodeWebhook(stored.Data); err != nil || len(w.Secrets) != 1 || w.Secrets[0] != newSecret {
		t.Errorf("stored webhook after the retirement: %v, %v; want only the new secret", w.Secrets, err)
	}
	last := h.admin(http.MethodPut, "/api/admin/tenants/acme", fmt.Sprintf(`{"webhook":{"retireSecret":%q}}`, newSecret))
	wantError(t, last, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(string(last.body), "last webhook secret") {
		t.Errorf("retiring the last secret: %s", last.body)
	}
	for _, res := range []response{added, retired, last} {
		if strings.Contains(string(res.body), newSecret) || strings.Contains(string(res.body), `"`+webhookSecret+`"`) {
			t.Errorf("an answer shows a webhook secret: %s", res.body)
		}
	}
}

// Outcomes are stored in events, the audit log and the delivery queue; a webhook URL's userinfo, path and
// query (which may carry tokens) appear in none of them, whether the connection is refused or the address is.
// The admin API shows the URL with its credentials masked.
func TestWebhookOutcomes_neverStoreTheURLsCredentials(t *testing.T) {
	const user, password, token = "hookuser", "pa55w0rd", "t0k3n"
	port := closedPort(t)
	for _, c := range []struct {
		name, host, reason string
		config             service.Config
	}{
		{"connection refused", "127.0.0.1", "connection refused", strictWebhooks(fastRetries(2))},
		{"refused address", "localhost", "is loopback", func() service.Config {
			c := fastRetries(2)
			// An allowed range elsewhere (TEST-NET-1): the harness's local policy does not apply.
			c.Webhook = webhook.Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
			return c
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := fmt.Sprintf("https://%s:%s@%s:%d/hooks/%s?token=%s", user, password, c.host, port, token, token)
			h, jb := webhookFixture(t, c.config, url)
			jb.schedule("p-1", "entry-1")
			o := h.outcomeOf("p-1", "entry-1")
			if o.typ != "PushUpdateFailed" || !strings.Contains(o.reason, c.reason) {
				t.Fatalf("%s with reason %q, want PushUpdateFailed naming %q", o.typ, o.reason, c.reason)
			}
			eventually(t, 10*time.Second, "the failure in the audit log", func() bool {
				return len(h.auditAll("acme", "passId=p-1&type=PushUpdateFailed", 10)) == 1
			})
			stored := rawStoredText(t, h)
			if !strings.Contains(stored, c.reason) {
				t.Fatalf("the stored rows do not hold the reason %q: the check reads the wrong rows", c.reason)
			}
			for _, secret := range []string{user, password, token} {
				if strings.Contains(stored, secret) {
					t.Errorf("a stored event, audit entry or delivery holds %q", secret)
				}
			}

			view := h.admin(http.MethodGet, "/api/admin/tenants/acme", "")
			shown, _ := view.json(t)["webhook"].(map[string]any)["url"].(string)
			if want := fmt.Sprintf("https://%s:xxxxx@%s:%d/hooks/%s?token=xxxxx", user, c.host, port, token); shown != want {
				t.Errorf("the admin API shows the webhook URL as %q, want %q", shown, want)
			}
			if strings.Contains(string(view.body), password) {
				t.Errorf("the admin API shows the password: %s", view.body)
			}
		})
	}
}

// rawStoredText is every event's payload, audit entry and delivery row, as the database holds them. The audit
// log's payloads are stored deflated: they are inflated, or a password in them would not show.
func rawStoredText(t *testing.T, h *harness) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT CAST(payload AS TEXT) FROM events`,
		`SELECT data FROM audit_log`,
		`SELECT CAST(results AS TEXT) || last_error FROM deliveries`,
	} {
		rows, err := h.svc.DB.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s []byte
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(q, "audit_log") {
				if s, err = audit.DecodePayload(s); err != nil {
					t.Fatal(err)
				}
			}
			b.Write(s)
			b.WriteByte('\n')
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
