package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestTenantKey_createPrintsTheKeyOnceListShowsItsStartRevokeRemovesIt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "sfmc-secret-of-acme-1")

	created := e.mustRun("tenant", "key", "create", "--tenant", "acme", "--name", "crm-sync")
	key := strings.TrimSpace(created.stdout)
	if !regexp.MustCompile(`^pp_acme_[0-9a-f]{64}$`).MatchString(key) || !strings.Contains(created.stderr, "shown once") {
		t.Fatalf("create printed %q, stderr:\n%s", created.stdout, created.stderr)
	}
	if r := e.run("tenant", "key", "create", "--tenant", "acme", "--name", "crm-sync"); r.code == 0 || !strings.Contains(r.stderr, "already has a key named crm-sync") {
		t.Errorf("a second key of the same name: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := e.run("tenant", "key", "create", "--tenant", "nobody"); r.code == 0 || !strings.Contains(r.stderr, "no tenant nobody") {
		t.Errorf("a key of an unknown tenant: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	list := e.mustRun("tenant", "key", "list", "--tenant", "acme")
	hint := key[len("pp_acme_") : len("pp_acme_")+8]
	if !regexp.MustCompile(`(?m)^crm-sync\s+pp_acme_` + hint + `…\s+\d{4}-\d\d-\d\dT`).MatchString(list.stdout) {
		t.Errorf("list:\n%s\nwant crm-sync with pp_acme_%s…", list.stdout, hint)
	}
	if strings.Contains(list.stdout+list.stderr+e.mustRun("tenant", "list").stdout, key[len("pp_acme_")+8:]) {
		t.Fatalf("a listing shows the key:\n%s", list.stdout)
	}

	if r := e.mustRun("tenant", "key", "revoke", "--tenant", "acme", "--name", "crm-sync"); !strings.Contains(r.stdout, "revoked API key crm-sync") {
		t.Errorf("revoke printed %q", r.stdout)
	}
	if out := e.mustRun("tenant", "key", "list", "--tenant", "acme").stdout; strings.Contains(out, "crm-sync") {
		t.Errorf("after revoke, list:\n%s", out)
	}
	if r := e.run("tenant", "key", "revoke", "--tenant", "acme", "--name", "crm-sync"); r.code == 0 || !strings.Contains(r.stderr, "has no API key named crm-sync") {
		t.Errorf("a second revoke: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
