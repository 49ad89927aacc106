package cli_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/ports/cli"
)

// The CLI refuses what the database adapter would refuse, and defaults to what it defaults to; it cannot import
// the adapter's constants, so this test keeps them equal.
func TestConfig_dbBudgetMatchesTheDatabaseAdapter(t *testing.T) {
	t.Parallel()
	if cli.MinDBMaxConns != sqldb.MinMaxConns {
		t.Errorf("cli.MinDBMaxConns = %d, sqldb.MinMaxConns = %d", cli.MinDBMaxConns, sqldb.MinMaxConns)
	}
	if cli.DefaultDBMaxConns != strconv.Itoa(sqldb.DefaultMaxConns) {
		t.Errorf("cli.DefaultDBMaxConns = %s, sqldb.DefaultMaxConns = %d", cli.DefaultDBMaxConns, sqldb.DefaultMaxConns)
	}
	if d, err := time.ParseDuration(cli.DefaultDBMaxIdleTime); err != nil || d != sqldb.DefaultMaxIdleTime {
		t.Errorf("cli.DefaultDBMaxIdleTime = %s, sqldb.DefaultMaxIdleTime = %s", cli.DefaultDBMaxIdleTime, sqldb.DefaultMaxIdleTime)
	}
}

func TestServe_refusesAConnectionBudgetBelowWhatItHoldsUnderLoad(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.extraEnv = []string{"PASSPUSH_DB_MAX_CONNS=4"}
	r := e.run("serve", "--http-addr", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_DB_MAX_CONNS") || !strings.Contains(r.stderr, strconv.Itoa(cli.MinDBMaxConns)) {
		t.Errorf("serve with PASSPUSH_DB_MAX_CONNS=4: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = e.run("migrate", "--db-max-idle-time", "0s")
	if r.code == 0 || !strings.Contains(r.stderr, "PASSPUSH_DB_MAX_IDLE_TIME") {
		t.Errorf("migrate --db-max-idle-time 0s: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
