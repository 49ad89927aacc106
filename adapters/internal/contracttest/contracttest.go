// Package contracttest holds the small helpers the adapters' contract tests share. Each contract test runs
// against the back end sqldbtest picks (SQLite by default, PostgreSQL with PASSPUSH_TEST_DATABASE_URL), so the
// helpers only use SQL both understand.
package contracttest

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/sirupsen/logrus"
)

// Timeout bounds every wait for asynchronous work. It is generous because it only matters when a test fails.
// On PostgreSQL a subscriber reads only the messages older than the cluster's oldest running transaction, and a
// CREATE DATABASE (every test's database is one) is such a transaction while it copies the template: with the
// packages' tests, or other projects, making databases on a loaded machine, projections stood still for more
// than the 10 s this was, and read-model waits failed (adapters/passes, TestMatch_concurrentCalls…).
const Timeout = time.Minute

// pollInterval is how often Eventually checks again.
const pollInterval = 5 * time.Millisecond

// Eventually checks cond until it holds, and fails the test with the message if it still does not after Timeout.
func Eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting until "+format, append([]any{Timeout}, args...)...)
		}
		time.Sleep(pollInterval)
	}
}

// Context returns a context that ends with the test, or after Timeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Logger is a logrus entry for the code under test. It is silent unless PASSPUSH_TEST_LOG is set: the bus logs
// every retry and poisoned message at error level, which the tests provoke on purpose.
func Logger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if os.Getenv("PASSPUSH_TEST_LOG") != "" {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return logrus.NewEntry(l)
}

// Count runs a SELECT count(*) … query and returns the count.
func Count(t testing.TB, db *sqldb.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
