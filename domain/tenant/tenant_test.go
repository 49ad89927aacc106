package tenant_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/domain/tenant"
)

func valid() tenant.Tenant {
	return tenant.Tenant{
		ID:                 "acme",
		Name:               "ACME",
		SFMCSigningSecrets: []string{"acme-sfmc-secret-1"},
		Webhook:            tenant.Webhook{URL: "https://hooks.example.com/passpush", Secrets: []string{"w1"}},
		Activity:           tenant.DefaultActivity,
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *tenant.Tenant)
		valid  bool
	}{
		{"valid", func(t *tenant.Tenant) {}, true},
		{"no webhook", func(t *tenant.Tenant) { t.Webhook = tenant.Webhook{} }, true},
		{"http webhook", func(t *tenant.Tenant) { t.Webhook.URL = "http://localhost:9000/hook" }, true},
		{"two secrets for a rotation", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{"old-sfmc-secret-1", "new-sfmc-secret-2"} }, true},
		{"three secrets", func(t *tenant.Tenant) {
			t.SFMCSigningSecrets = []string{"sfmc-secret-0001", "sfmc-secret-0002", "sfmc-secret-0003"}
		}, true},
		{"a fourth secret", func(t *tenant.Tenant) {
			t.SFMCSigningSecrets = []string{"sfmc-secret-0001", "sfmc-secret-0002", "sfmc-secret-0003", "sfmc-secret-0004"}
		}, false},
		{"a secret of 16 bytes", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{strings.Repeat("s", 16)} }, true},
		{"a secret of 15 bytes", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{strings.Repeat("s", 15)} }, false},
		{"a secret given twice", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{"sfmc-secret-0001", "sfmc-secret-0001"} }, false},
		{"disabled", func(t *tenant.Tenant) { t.Disabled = true }, true},
		{"name of 255", func(t *tenant.Tenant) { t.Name = strings.Repeat("n", 255) }, true},
		{"name of 256", func(t *tenant.Tenant) { t.Name = strings.Repeat("n", 256) }, false},
		{"id of 64", func(t *tenant.Tenant) { t.ID = strings.Repeat("a", 64) }, true},
		{"id of 65", func(t *tenant.Tenant) { t.ID = strings.Repeat("a", 65) }, false},
		{"empty id", func(t *tenant.Tenant) { t.ID = "" }, false},
		{"id with a dot", func(t *tenant.Tenant) { t.ID = "a.b" }, false},
		{"id with a slash", func(t *tenant.Tenant) { t.ID = "a/b" }, false},
		{"id starting with a dash", func(t *tenant.Tenant) { t.ID = "-a" }, false},
		{"id with _ and -", func(t *tenant.Tenant) { t.ID = "a_b-c" }, true},
		{"no secret", func(t *tenant.Tenant) { t.SFMCSigningSecrets = nil }, false},
		{"empty secret list", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{} }, false},
		{"an empty secret", func(t *tenant.Tenant) { t.SFMCSigningSecrets = []string{"acme-sfmc-secret-1", ""} }, false},
		{"relative webhook", func(t *tenant.Tenant) { t.Webhook.URL = "/hook" }, false},
		{"ftp webhook", func(t *tenant.Tenant) { t.Webhook.URL = "ftp://example.com/hook" }, false},
		{"webhook without host", func(t *tenant.Tenant) { t.Webhook.URL = "https:///hook" }, false},
		{"unparsable webhook", func(t *tenant.Tenant) { t.Webhook.URL = "https://exa mple.com/%zz" }, false},
		{"webhook without secret", func(t *tenant.Tenant) { t.Webhook.Secrets = nil }, false},
		{"an empty webhook secret", func(t *tenant.Tenant) { t.Webhook.Secrets = []string{"w1", ""} }, false},
		{"three webhook secrets", func(t *tenant.Tenant) { t.Webhook.Secrets = []string{"w1", "w2", "w3"} }, true},
		{"four webhook secrets", func(t *tenant.Tenant) { t.Webhook.Secrets = []string{"w1", "w2", "w3", "w4"} }, false},
		{"a webhook secret twice", func(t *tenant.Tenant) { t.Webhook.Secrets = []string{"w1", "w1"} }, false},
		{"secret without webhook", func(t *tenant.Tenant) { t.Webhook.URL = "" }, true},
		{"reserved id", func(t *tenant.Tenant) { t.ID = "admin" }, false},
		{"activity key", func(t *tenant.Tenant) { t.Activity.Key = "a3b2c1d0-0000-4000-8000-000000000000" }, true},
		{"activity key of 256", func(t *tenant.Tenant) { t.Activity.Key = strings.Repeat("k", 256) }, false},
		{"split key", func(t *tenant.Tenant) { t.Activity.SplitKey = "b3b2c1d0-0000-4000-8000-000000000000" }, true},
		{"split key of 256", func(t *tenant.Tenant) { t.Activity.SplitKey = strings.Repeat("k", 256) }, false},
		{"split key with NUL", func(t *tenant.Tenant) { t.Activity.SplitKey = "k\x00" }, false},
		{"no activity settings", func(t *tenant.Tenant) { t.Activity = tenant.Activity{} }, false},
		{"timeout 1000 ms", func(t *tenant.Tenant) { t.Activity.TimeoutMS = 1000 }, true},
		{"timeout 999 ms", func(t *tenant.Tenant) { t.Activity.TimeoutMS = 999 }, false},
		{"timeout 100000 ms", func(t *tenant.Tenant) { t.Activity.TimeoutMS = 100000 }, true},
		{"timeout 100001 ms", func(t *tenant.Tenant) { t.Activity.TimeoutMS = 100001 }, false},
		{"no retries", func(t *tenant.Tenant) { t.Activity.RetryCount = 0 }, true},
		{"5 retries", func(t *tenant.Tenant) { t.Activity.RetryCount = 5 }, true},
		{"6 retries", func(t *tenant.Tenant) { t.Activity.RetryCount = 6 }, false},
		{"negative retries", func(t *tenant.Tenant) { t.Activity.RetryCount = -1 }, false},
		{"retry delay 10000 ms", func(t *tenant.Tenant) { t.Activity.RetryDelayMS = 10000 }, true},
		{"retry delay 10001 ms", func(t *tenant.Tenant) { t.Activity.RetryDelayMS = 10001 }, false},
		{"1 concurrent request", func(t *tenant.Tenant) { t.Activity.ConcurrentRequests = 1 }, true},
		{"50 concurrent requests", func(t *tenant.Tenant) { t.Activity.ConcurrentRequests = 50 }, true},
		{"51 concurrent requests", func(t *tenant.Tenant) { t.Activity.ConcurrentRequests = 51 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := valid()
			tc.change(&tn)
			err := tn.Validate()
			if tc.valid && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tc.valid && !errors.Is(err, tenant.ErrInvalid) {
				t.Errorf("Validate() = %v, want tenant.ErrInvalid", err)
			}
		})
	}
}

func TestChangesApply_nilFieldsKeepTheirValue(t *testing.T) {
	before := valid()
	before.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := (tenant.Changes{}).Apply(before); !reflect.DeepEqual(got, before) {
		t.Errorf("empty changes gave %#v, want %#v", got, before)
	}
}

func TestChangesApply_setsEveryGivenField(t *testing.T) {
	name, url, secret, disabled := "New name", "https://other.example.com/h", "w2", true
	key, splitKey, timeout, retries, delay, concurrent := "k1", "s1", 30000, 0, 500, 10
	got := tenant.Changes{
		Name:                       &name,
		SFMCSigningSecrets:         []string{"s2", "s3"},
		WebhookURL:                 &url,
		WebhookSecret:              &secret,
		Disabled:                   &disabled,
		ActivityKey:                &key,
		ActivitySplitKey:           &splitKey,
		ActivityTimeoutMS:          &timeout,
		ActivityRetryCount:         &retries,
		ActivityRetryDelayMS:       &delay,
		ActivityConcurrentRequests: &concurrent,
	}.Apply(valid())
	want := tenant.Tenant{
		ID:                 "acme",
		Name:               name,
		SFMCSigningSecrets: []string{"s2", "s3"},
		Webhook:            tenant.Webhook{URL: url, Secrets: []string{"w1", secret}},
		Activity:           tenant.Activity{Key: key, SplitKey: splitKey, TimeoutMS: timeout, RetryCount: retries, RetryDelayMS: delay, ConcurrentRequests: concurrent},
		Disabled:           true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %#v, want %#v", got, want)
	}
}

func TestChangesApply_secretsReplaceTheWholeList(t *testing.T) {
	before := valid()
	before.SFMCSigningSecrets = []string{"old", "older"}
	got := tenant.Changes{SFMCSigningSecrets: []string{"new"}}.Apply(before)
	if !reflect.DeepEqual(got.SFMCSigningSecrets, []string{"new"}) {
		t.Errorf("secrets = %q, want [new]", got.SFMCSigningSecrets)
	}
	// An empty, non-nil list replaces too, and Validate then refuses the tenant.
	emptied := tenant.Changes{SFMCSigningSecrets: []string{}}.Apply(before)
	if len(emptied.SFMCSigningSecrets) != 0 || !errors.Is(emptied.Validate(), tenant.ErrInvalid) {
		t.Errorf("emptied secrets = %q, validate = %v", emptied.SFMCSigningSecrets, emptied.Validate())
	}
}

func TestChangesApply_doesNotShareTheSecretsSlice(t *testing.T) {
	secrets := []string{"s2"}
	got := tenant.Changes{SFMCSigningSecrets: secrets}.Apply(valid())
	secrets[0] = "mutated"
	if got.SFMCSigningSecrets[0] != "s2" {
		t.Errorf("the tenant shares the caller's slice: %q", got.SFMCSigningSecrets)
	}
}

func TestChangesApply_canClearTheWebhookAndReEnable(t *testing.T) {
	before := valid()
	before.Disabled = true
	empty, enabled := "", false
	got := tenant.Changes{WebhookURL: &empty, WebhookSecret: &empty, Disabled: &enabled}.Apply(before)
	if !reflect.DeepEqual(got.Webhook, tenant.Webhook{}) || got.Disabled {
		t.Errorf("Apply = %#v, want no webhook and enabled", got)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestChangesApply_webhookSecretsAreAddedAndRetired(t *testing.T) {
	before := valid() // secrets [w1]
	add, retire := "w2", "w1"
	added := tenant.Changes{WebhookSecret: &add}.Apply(before)
	if !reflect.DeepEqual(added.Webhook.Secrets, []string{"w1", "w2"}) {
		t.Fatalf("after adding w2: %q, want [w1 w2]", added.Webhook.Secrets)
	}
	if again := (tenant.Changes{WebhookSecret: &add}).Apply(added); !reflect.DeepEqual(again.Webhook.Secrets, []string{"w1", "w2"}) {
		t.Errorf("adding w2 again: %q, want it kept once", again.Webhook.Secrets)
	}
	if err := (tenant.Changes{RetireWebhookSecret: &retire}).CheckWebhookSecrets(added); err != nil {
		t.Fatalf("retiring w1 of two: %v", err)
	}
	retired := tenant.Changes{RetireWebhookSecret: &retire}.Apply(added)
	if !reflect.DeepEqual(retired.Webhook.Secrets, []string{"w2"}) || retired.Validate() != nil {
		t.Errorf("after retiring w1: %q, %v; want [w2], valid", retired.Webhook.Secrets, retired.Validate())
	}
	if added.Webhook.Secrets[0] != "w1" {
		t.Errorf("Apply changed the tenant it was given: %q", added.Webhook.Secrets)
	}

	last := "w2"
	err := tenant.Changes{RetireWebhookSecret: &last}.CheckWebhookSecrets(retired)
	if !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), "last webhook secret") {
		t.Errorf("retiring the last secret while a URL is set: %v, want ErrInvalid naming the last secret", err)
	}
	unknown := "never-added"
	if err := (tenant.Changes{RetireWebhookSecret: &unknown}).CheckWebhookSecrets(added); !errors.Is(err, tenant.ErrInvalid) {
		t.Errorf("retiring a secret the tenant does not have: %v, want ErrInvalid", err)
	}
	// With the URL removed in the same change, the last secret goes with it.
	empty := ""
	if err := (tenant.Changes{WebhookURL: &empty, RetireWebhookSecret: &last}).CheckWebhookSecrets(retired); err != nil {
		t.Errorf("retiring the last secret with the URL: %v", err)
	}

	full := valid()
	full.Webhook.Secrets = []string{"w1", "w2", "w3"}
	fourth := "w4"
	err = tenant.Changes{WebhookSecret: &fourth}.Apply(full).Validate()
	if !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), "at most 3") {
		t.Errorf("a fourth secret: %v, want ErrInvalid saying at most 3", err)
	}
}

func TestMaskURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.example.com/p":                         "https://hooks.example.com/p",
		"https://user:pa55@hooks.example.com/p?token=t0k&a=1": "https://user:xxxxx@hooks.example.com/p?token=xxxxx&a=xxxxx",
		"https://t0ken@hooks.example.com/p":                   "https://xxxxx@hooks.example.com/p",
		"https://hooks.example.com/p?t0k":                     "https://hooks.example.com/p?xxxxx",
		"https://hooks.example.com/p#frag":                    "https://hooks.example.com/p",
	} {
		if got := tenant.MaskURL(raw); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestValidate_namesNoSigningSecret(t *testing.T) {
	for _, secrets := range [][]string{{"short-secret"}, {"sfmc-secret-0001", "sfmc-secret-0001"}} {
		tn := valid()
		tn.SFMCSigningSecrets = secrets
		if err := tn.Validate(); err == nil || strings.Contains(err.Error(), secrets[0]) {
			t.Errorf("Validate() = %v: want an error that does not quote the secret", err)
		}
	}
}
