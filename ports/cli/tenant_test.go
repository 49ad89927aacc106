package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestTenantList_showsTenantsButNeverTheirSecrets(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	secrets := []string{"sfmc-secret-old-4b1f", "sfmc-secret-new-9c2e", "webhook-secret-77aa"}
	e.mustRun("tenant", "add", "acme", "--name", "ACME Retail",
		"--sfmc-signing-secret", secrets[0], "--sfmc-signing-secret", secrets[1],
		"--webhook-url", "https://hooks.example.com/passpush", "--webhook-secret", secrets[2])
	e.mustRun("tenant", "add", "globex", "--sfmc-signing-secret", "globex-secret-1234")
	secrets = append(secrets, "globex-secret-1234")

	r := e.mustRun("tenant", "list")
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("tenant list prints secret %q:\n%s%s", s, r.stdout, r.stderr)
		}
	}
	// Columns may be added between the webhook URL and DISABLED, which stays last.
	acme := regexp.MustCompile(`(?m)^acme\s+ACME Retail\s+2\s+https://hooks\.example\.com/passpush\s+(.*\s)?false$`)
	globex := regexp.MustCompile(`(?m)^globex\s+-\s+1\s+-\s+(.*\s)?false$`)
	if !acme.MatchString(r.stdout) || !globex.MatchString(r.stdout) {
		t.Errorf("tenant list:\n%s\nwant acme with 2 secrets and its webhook, globex with 1", r.stdout)
	}
}

func TestTenantUpdate_changesOnlyTheFlagsGiven(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--name", "ACME", "--sfmc-signing-secret", "cli-sfmc-secret-1", "--sfmc-signing-secret", "cli-sfmc-secret-2")

	e.mustRun("tenant", "update", "acme", "--disabled=true")
	if out := e.mustRun("tenant", "list").stdout; !regexp.MustCompile(`(?m)^acme\s+ACME\s+2\s+-\s+(.*\s)?true$`).MatchString(out) {
		t.Errorf("after --disabled=true:\n%s\nwant the name and both secrets kept, disabled true", out)
	}

	e.mustRun("tenant", "update", "acme", "--disabled=false", "--sfmc-signing-secret", "cli-sfmc-secret-3")
	if out := e.mustRun("tenant", "list").stdout; !regexp.MustCompile(`(?m)^acme\s+ACME\s+1\s+-\s+(.*\s)?false$`).MatchString(out) {
		t.Errorf("after a new secret list:\n%s\nwant one secret, enabled", out)
	}
}

// Issue 15: the "Wallet pass?" split's key is a tenant setting of its own, beside the push update's.
func TestTenantAddAndUpdate_setTheSplitKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1", "--sfmc-activity-key", "push-key-1",
		"--sfmc-split-key", "split-key-1")
	if out := e.mustRun("tenant", "list").stdout; !regexp.MustCompile(`(?m)^acme\s+-\s+1\s+-\s+push-key-1\s+split-key-1\s`).MatchString(out) {
		t.Errorf("after add:\n%s\nwant the activity key, then the split key", out)
	}
	e.mustRun("tenant", "update", "acme", "--sfmc-split-key", "split-key-2")
	if out := e.mustRun("tenant", "list").stdout; !regexp.MustCompile(`(?m)^acme\s+-\s+1\s+-\s+push-key-1\s+split-key-2\s`).MatchString(out) {
		t.Errorf("after update:\n%s\nwant the split key changed and the activity key kept", out)
	}
}

func TestTenantAdd_refusesAnExistingTenantAndUpdateAnUnknownOne(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	if r := e.run("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-2"); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second add: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := e.run("tenant", "update", "nobody", "--name", "x"); r.code == 0 || !strings.Contains(r.stderr, "no tenant nobody") {
		t.Errorf("update of an unknown tenant: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := e.run("tenant", "add", "bare"); r.code == 0 || !strings.Contains(r.stderr, "sfmc-signing-secret") {
		t.Errorf("add without a signing secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestTenantUpdate_addsAndRetiresWebhookSecrets(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "acme-sfmc-secret-0001",
		"--webhook-url", "https://hookuser:pa55w0rd@hooks.example.com/passpush?token=t0k3n", "--webhook-secret", "whsec-1")
	if out := e.mustRun("tenant", "update", "acme", "--webhook-secret", "whsec-2").stdout; !strings.Contains(out, "2 webhook secrets") {
		t.Errorf("after adding a secret: %q, want 2 webhook secrets", out)
	}
	e.mustRun("tenant", "update", "acme", "--webhook-secret", "whsec-3")
	if r := e.run("tenant", "update", "acme", "--webhook-secret", "whsec-4"); r.code == 0 || !strings.Contains(r.stderr, "at most 3 webhook secrets") {
		t.Errorf("a fourth secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	e.mustRun("tenant", "update", "acme", "--retire-webhook-secret", "whsec-1")
	if out := e.mustRun("tenant", "update", "acme", "--retire-webhook-secret", "whsec-2").stdout; !strings.Contains(out, "1 webhook secrets") {
		t.Errorf("after retiring two of three: %q, want 1 webhook secret", out)
	}
	if r := e.run("tenant", "update", "acme", "--retire-webhook-secret", "whsec-3"); r.code == 0 || !strings.Contains(r.stderr, "last webhook secret") {
		t.Errorf("retiring the last secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := e.run("tenant", "update", "acme", "--retire-webhook-secret", "never-added"); r.code == 0 || !strings.Contains(r.stderr, "not one of the tenant's") {
		t.Errorf("retiring an unknown secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	list := e.mustRun("tenant", "list")
	if !strings.Contains(list.stdout, "https://hookuser:xxxxx@hooks.example.com/passpush?token=xxxxx") {
		t.Errorf("tenant list does not show the masked URL:\n%s", list.stdout)
	}
	for _, secret := range []string{"pa55w0rd", "t0k3n", "whsec-"} {
		if strings.Contains(list.stdout+list.stderr, secret) {
			t.Errorf("tenant list shows %q:\n%s", secret, list.stdout)
		}
	}
}

func TestTenantAdd_refusesAnHTTPWebhookWithoutTheDevelopmentSetting(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	r := e.run("tenant", "add", "acme", "--sfmc-signing-secret", "acme-sfmc-secret-0001", "--webhook-url", "http://127.0.0.1:9000/hook", "--webhook-secret", "w")
	if r.code == 0 || !strings.Contains(r.stderr, "must be https") {
		t.Errorf("http webhook: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	e.extraEnv = []string{"PASSPUSH_ALLOW_INSECURE_WEBHOOKS=true", "PASSPUSH_WEBHOOK_ALLOW_CIDRS=127.0.0.0/8,::1/128"}
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "acme-sfmc-secret-0001", "--webhook-url", "http://127.0.0.1:9000/hook", "--webhook-secret", "w")
	if r := e.run("tenant", "update", "acme", "--webhook-url", "http://hooks.example.com/hook"); r.code == 0 || !strings.Contains(r.stderr, "only for a loopback host") {
		t.Errorf("http to another host in development: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	e.extraEnv = []string{"PASSPUSH_WEBHOOK_ALLOW_CIDRS=10.0.0.0/33"}
	if r := e.run("tenant", "list"); r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_WEBHOOK_ALLOW_CIDRS") {
		t.Errorf("a bad CIDR: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
