package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

func TestServe_refusesToStartOnPostgreSQLWithoutASecretKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	// Refused before any connection: the server need not exist.
	e.databaseURL, e.secretKey = "postgres://passpush@127.0.0.1:1/passpush?sslmode=disable", ""
	for _, args := range [][]string{{"serve"}, {"migrate"}, {"tenant", "list"}} {
		r := e.run(args...)
		if r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_SECRET_KEY or PASSPUSH_SECRET_KEY_FILE must be set on PostgreSQL") {
			t.Errorf("passpush %s without a key: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func TestSQLite_withoutASecretKeyMakesAPrivateKeyFileBesideTheDatabase(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "passpush.db")
	e.databaseURL, e.secretKey = "sqlite:"+path, ""
	keyFile := path + ".secret-key"

	first := e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("no key file beside the database: %v\n%s", err, first.stderr)
	}
	for _, name := range []string{keyFile, path} {
		if info, err := os.Stat(name); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", filepath.Base(name), info.Mode().Perm(), err)
		}
	}
	if n := strings.Count(first.stderr, "made a new secret key file"); n != 1 || !strings.Contains(first.stderr, keyFile) {
		t.Errorf("the log says %d times that it made the key file, want once naming %s:\n%s", n, keyFile, first.stderr)
	}
	// The next command uses the same key, quietly, and no log ever shows it.
	second := e.mustRun("tenant", "list")
	if !strings.Contains(second.stdout, "acme") || strings.Contains(second.stderr, "made a new secret key file") {
		t.Errorf("second command:\n%s%s", second.stdout, second.stderr)
	}
	if k := strings.TrimSpace(string(key)); strings.Contains(first.stderr+second.stderr+first.stdout, k) {
		t.Error("the key appears in the output")
	}
}

func TestTenantAdd_refusesAnotherTenantsSFMCSecret(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	r := e.run("tenant", "add", "globex", "--sfmc-signing-secret", "cli-sfmc-secret-1")
	if r.code == 0 || !strings.Contains(r.stderr, "already used by another tenant") || strings.Contains(r.stderr, "cli-sfmc-secret-1") {
		t.Errorf("add with acme's secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := e.run("tenant", "add", "globex", "--sfmc-signing-secret", "short"); r.code == 0 || !strings.Contains(r.stderr, "at least 16") {
		t.Errorf("add with a short secret: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestSecretsRotateKey_reEncryptsWithTheNewKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	oldKey, newKey := secretbox.GenerateKeyText(), secretbox.GenerateKeyText()
	e.secretKey = oldKey
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1",
		"--webhook-url", "https://hooks.example.com/h", "--webhook-secret", "cli-webhook-secret")
	newKeyFile := e.writeFile("new.key", newKey+"\n")

	// Only with the new key configured as the current one, and the old as the previous one.
	if r := e.run("secrets", "rotate-key", "--new-key-file", newKeyFile); r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_SECRET_KEY_PREVIOUS") {
		t.Fatalf("rotate-key with the old key configured: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	e.secretKey = ""
	e.extraEnv = []string{"PASSPUSH_SECRET_KEY_FILE=" + newKeyFile, "PASSPUSH_SECRET_KEY_PREVIOUS=" + oldKey}
	if r := e.mustRun("secrets", "rotate-key", "--new-key-file", newKeyFile); strings.Contains(r.stdout+r.stderr, newKey) || strings.Contains(r.stdout+r.stderr, oldKey) {
		t.Errorf("rotate-key shows a key:\n%s%s", r.stdout, r.stderr)
	}

	// The new key alone reads everything; the old one alone reads nothing.
	e.extraEnv = nil
	e.secretKey = newKey
	if r := e.mustRun("tenant", "list"); !strings.Contains(r.stdout, "https://hooks.example.com/h") {
		t.Errorf("tenant list with the new key:\n%s", r.stdout)
	}
	e.secretKey = oldKey
	if r := e.run("tenant", "list"); r.code == 0 || !strings.Contains(r.stderr, "not configured") {
		t.Errorf("tenant list with the old key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestMigrate_sealsTheSecretsEarlierVersionsStoredInPlainText(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	db, err := sqldb.Open(ctx, e.databaseURL, sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := sqldbtest.Migrations(t, db).UpTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, disabled, created_at, updated_at)
			VALUES ('acme', 'ACME', '["legacy-acme-sfmc-secret"]', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`,
		`INSERT INTO channel_credentials (tenant_id, kind, name, data, revision, updated_at) VALUES
			('acme', 'webhook', 'default', '{"url":"https://hooks.example.com/h","secret":"legacy-webhook-secret"}', 1, CURRENT_TIMESTAMP)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	r := e.mustRun("migrate")
	if !strings.Contains(r.stdout, "applied") || !strings.Contains(r.stderr, "encrypted the stored secrets") {
		t.Errorf("migrate:\n%s%s", r.stdout, r.stderr)
	}
	var secrets, webhook string
	if err := db.QueryRowContext(ctx, `SELECT t.sfmc_signing_secrets, c.data FROM tenants t JOIN channel_credentials c ON c.tenant_id = t.tenant_id`).
		Scan(&secrets, &webhook); err != nil {
		t.Fatal(err)
	}
	if !secretbox.IsSealed(secrets) || !secretbox.IsSealed(webhook) || strings.Contains(secrets+webhook, "legacy") {
		t.Errorf("after migrate: %q, %q", secrets, webhook)
	}
	if r := e.mustRun("tenant", "list"); !strings.Contains(r.stdout, "https://hooks.example.com/h") {
		t.Errorf("tenant list after migrate:\n%s", r.stdout)
	}
}
