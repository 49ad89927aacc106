package cli_test

import (
	"strings"
	"testing"
)

func TestHelp_namesEveryVariableAndItsFlag(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	out := e.mustRun("--help").stdout
	for _, want := range []string{
		"PASSPUSH_DATABASE_URL", "--database-url",
		"PASSPUSH_HTTP_ADDR", "--http-addr", ":8080",
		"PASSPUSH_ADMIN_TOKEN", "--admin-token",
		"PASSPUSH_PUBLIC_URL", "--public-url",
		"PASSPUSH_LOG_LEVEL", "--log-level",
		"PASSPUSH_DB_MAX_CONNS", "--db-max-conns", "PASSPUSH_DB_MAX_IDLE_TIME", "--db-max-idle-time",
		"PASSPUSH_DELIVERY_LEASE", "--delivery-lease", "PASSPUSH_DELIVERY_MAX_ATTEMPTS", "--delivery-max-attempts",
		"PASSPUSH_DELIVERY_MAX_BACKOFF", "--delivery-max-backoff",
		"PASSPUSH_GOOGLE_API_URL", "--google-api-url",
		"PASSPUSH_APNS_URL", "--apns-url", "https://api.push.apple.com",
		"PASSPUSH_APPLE_SIGN_AHEAD", "--apple-sign-ahead",
		"serve", "migrate", "tenant", "pass", "projections",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("passpush --help does not mention %s:\n%s", want, out)
		}
	}
}

func TestHelp_neverShowsTheAdminTokenFromTheEnvironment(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.extraEnv = []string{"PASSPUSH_ADMIN_TOKEN=token-that-must-stay-hidden"}
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		r := e.mustRun(args...)
		if strings.Contains(r.stdout+r.stderr, "token-that-must-stay-hidden") {
			t.Errorf("passpush %v shows the admin token:\n%s", args, r.stdout)
		}
	}
}

func TestConfig_invalidSettingFailsBeforeTouchingTheDatabase(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.databaseURL = "mysql://root@localhost/passpush"
	r := e.run("migrate")
	if r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_DATABASE_URL") {
		t.Fatalf("migrate with a mysql:// URL: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestMigrate_appliesOnceThenReportsUpToDate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if out := e.mustRun("migrate").stdout; !strings.Contains(out, "applied") {
		t.Errorf("first migrate: %q, want it to say what it applied", out)
	}
	if out := e.mustRun("migrate").stdout; !strings.Contains(out, "up to date") {
		t.Errorf("second migrate: %q, want up to date", out)
	}
}
