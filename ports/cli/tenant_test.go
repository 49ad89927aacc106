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
