package tenant_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/domain/tenant"
)

func TestNewAPIKey_isThePrefixTheTenantAnd32RandomBytesStoredOnlyAsItsHash(t *testing.T) {
	random := bytes.NewReader(bytes.Repeat([]byte{0xab}, 32))
	k, key, err := tenant.NewAPIKey("acme-eu_1", "crm", random, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if key != "pp_acme-eu_1_"+strings.Repeat("ab", 32) {
		t.Fatalf("key %q", key)
	}
	if k.Hash != tenant.HashAPIKey(key) || !k.Hash.Equal(tenant.HashAPIKey(key)) || k.Hash.Equal(tenant.HashAPIKey(key+"x")) {
		t.Fatal("the stored hash is not the key's SHA-256")
	}
	if k.Hint != "abababab" || k.TenantID != "acme-eu_1" || k.Name != "crm" {
		t.Fatalf("stored %+v", k)
	}
	if _, _, err := tenant.NewAPIKey("acme", "crm", bytes.NewReader(make([]byte, 31)), time.Now()); err == nil {
		t.Fatal("a key made from 31 random bytes")
	}
	for _, name := range []string{"", "a b", "a/b", "-a", strings.Repeat("a", 65)} {
		if _, _, err := tenant.NewAPIKey("acme", name, bytes.NewReader(make([]byte, 32)), time.Now()); err == nil {
			t.Errorf("a key named %q", name)
		}
	}
}

func TestLooksLikeAPIKey(t *testing.T) {
	hex := strings.Repeat("0f", 32)
	for credential, want := range map[string]string{
		"pp_acme_" + hex:                  "acme",
		"pp_acme_eu_" + hex:               "acme_eu", // the random part has a fixed length: a tenant id may hold "_"
		"pp_acme_" + hex[1:]:              "",
		"pp_acme_" + hex + "0":            "",
		"pp_acme-" + hex:                  "",
		"pp__" + hex:                      "",
		"pp_admin_" + hex:                 "", // a reserved id is no tenant
		"pp_acme_" + strings.ToUpper(hex): "",
		"xx_acme_" + hex:                  "",
		"test-admin-token":                "",
	} {
		got, ok := tenant.LooksLikeAPIKey(credential)
		if got != want || ok != (want != "") {
			t.Errorf("LooksLikeAPIKey(%q) = %q, %t; want %q", credential, got, ok, want)
		}
	}
}

func TestLogPrefix_showsAtMostEightCharacters(t *testing.T) {
	if got := tenant.LogPrefix("pp_acme_" + strings.Repeat("0f", 32)); got != "pp_acme_" {
		t.Errorf("LogPrefix = %q", got)
	}
	if got := tenant.LogPrefix("short"); got != "" {
		t.Errorf("a credential of 8 characters or less is shown as %q", got)
	}
}

func TestSaveEvent_namesWhatChangedButNoSecret(t *testing.T) {
	before := tenant.Tenant{ID: "acme", Name: "A", SFMCSigningSecrets: []string{"secret-one-1234567"}, Activity: tenant.DefaultActivity}
	after := before
	after.SFMCSigningSecrets = []string{"secret-two-7654321"}
	after.Webhook = tenant.Webhook{URL: "https://h.example.com/?token=url-secret", Secrets: []string{"webhook-secret-99"}}
	after.Disabled = true
	after.Activity.RetryCount = 0
	e := tenant.SaveEvent(before, after, false, tenant.Actor{Name: "cli"})
	changed, ok := e.(tenant.Changed)
	if !ok {
		t.Fatalf("event %#v", e)
	}
	want := []string{"sfmcSigningSecrets changed (1 added, 1 removed)", "webhook url added", "webhook secrets changed (1 added, 0 removed)", "disabled", "activity retryCount"}
	if strings.Join(changed.Changes, "|") != strings.Join(want, "|") || changed.Actor.Name != "cli" {
		t.Fatalf("changes %q by %+v, want %q", changed.Changes, changed.Actor, want)
	}
	if regexp.MustCompile(`secret-|url-secret`).MatchString(strings.Join(changed.Changes, " ")) {
		t.Fatalf("changes show a secret: %q", changed.Changes)
	}
	if e := tenant.SaveEvent(after, after, false, tenant.Actor{}); e != nil {
		t.Fatalf("no change recorded as %#v", e)
	}
	if c, ok := tenant.SaveEvent(tenant.Tenant{}, before, true, tenant.Actor{}).(tenant.Created); !ok || c.Actor.Name != "unnamed" ||
		strings.Join(c.Changes, "|") != "name|sfmcSigningSecrets changed (1 added, 0 removed)" {
		t.Fatalf("created: %#v", c)
	}
}
