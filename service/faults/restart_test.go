package faults

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// TestFault_postgresRestartAnswers503NeverA500AndRecovers restarts the whole PostgreSQL server under load. While
// it is down, execute calls answer 503, which Journey Builder retries, never 500; afterwards passpush goes on
// without a restart of its own, and every call answered 200 is delivered. It restarts the server every other
// test and database on it uses, so it runs only with PASSPUSH_FAULT_RESTART=1, alone.
func TestFault_postgresRestartAnswers503NeverA500AndRecovers(t *testing.T) {
	requireFaultTests(t)
	if os.Getenv(envRestart) != "1" {
		t.Skipf("restarting PostgreSQL affects every database on the server: run alone with %s=1", envRestart)
	}
	db := newDatabase(t)
	if !db.postgres {
		t.Skip("a PostgreSQL restart")
	}
	s := newScenario(t, db, 200, 1)

	l := s.startLoad(150, 12*time.Second)
	l.waitAcknowledged(300)
	at := time.Now()
	ready := restartPostgres(t)
	calls := l.wait()
	t.Logf("PostgreSQL was back %.2fs after the restart began", ready.Sub(at).Seconds())

	var wrong []call
	for _, c := range calls {
		if c.status != http.StatusOK && c.status != http.StatusServiceUnavailable {
			wrong = append(wrong, c)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d execute calls answered neither 200 nor 503: %s", len(wrong), outcome(wrong))
	}
	s.checkPromise(calls, promise{within: 45 * time.Second})
	recovery, ok := resumedAfter(s, calls, ready)
	t.Logf("the first update accepted after PostgreSQL was back arrived %.2fs later", recovery.Seconds())
	if bound := 10 * time.Second; !ok || recovery > bound {
		t.Errorf("deliveries did not resume within %s of PostgreSQL being back (first update accepted after it arrived after %.2fs, arrived at all: %t)",
			bound, recovery.Seconds(), ok)
	}
	if processExited(s.all()[0]) {
		t.Errorf("serve stopped during the restart:\n%s", s.logs(30))
	}
}

func processExited(in *instance) bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// restartPostgres restarts the machine's cluster the way .ci/run starts it and returns when it accepts
// connections again. It fails the test if the cluster is not local or does not come back within a minute; a
// cluster left down would fail every later test on the machine.
func restartPostgres(t *testing.T) time.Time {
	t.Helper()
	u, err := url.Parse(os.Getenv(sqldbtest.EnvURL))
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		t.Fatalf("restarting PostgreSQL needs the cluster on this machine, not %q", u.Hostname())
	}
	versions, err := filepath.Glob("/etc/postgresql/*")
	if err != nil || len(versions) == 0 {
		t.Fatalf("no PostgreSQL cluster in /etc/postgresql: %v", err)
	}
	slices.SortFunc(versions, func(a, b string) int { return len(a) - len(b) }) // "9.6" before "15"
	version := filepath.Base(versions[len(versions)-1])
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart").CombinedOutput()
	if err != nil {
		t.Errorf("pg_ctlcluster %s main restart: %v\n%s", version, err, out)
	}
	isReady := func() bool {
		return exec.CommandContext(ctx, "pg_isready", "-q", "-h", u.Hostname(), "-p", port).Run() == nil
	}
	if !waitFor(time.Minute, isReady) {
		t.Fatalf("PostgreSQL %s did not accept connections within a minute of its restart", version)
	}
	return time.Now()
}
