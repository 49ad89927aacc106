package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// passpushBinary is the passpush binary built from this tree; the tests run it as a user would.
var passpushBinary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "passpush-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	passpushBinary = filepath.Join(dir, "passpush")
	// Without -race even when the tests run with it: the commands' code runs under the race detector in the
	// service's and the ports' own tests, and an instrumented binary made each of the many runs here several
	// times slower, which made this package the longest part of CI.
	build := exec.Command("go", "build", "-o", passpushBinary, "github.com/passpush/passpush")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build passpush:", err)
		return 1
	}
	return m.Run()
}

// testEnv is one fresh database and a working directory, as a user on a new machine has them.
type testEnv struct {
	t           *testing.T
	databaseURL string
	dir         string
	extraEnv    []string
	// secretKey is PASSPUSH_SECRET_KEY: set on PostgreSQL, which requires it; empty on SQLite, where passpush
	// makes a key file beside the database.
	secretKey string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, databaseURL: sqldbtest.NewURL(t), dir: t.TempDir()}
	if !strings.HasPrefix(e.databaseURL, "sqlite:") {
		e.secretKey = secretbox.GenerateKeyText()
	}
	return e
}

// environ is the test process's environment without any PASSPUSH_ setting, plus the test's own, so a variable
// set in the developer's shell cannot change what a test sees.
func (e *testEnv) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		// The collector's variables too: serve's defaults for them are under test.
		if !strings.HasPrefix(kv, "PASSPUSH_") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PASSPUSH_DATABASE_URL="+e.databaseURL)
	if e.secretKey != "" {
		env = append(env, "PASSPUSH_SECRET_KEY="+e.secretKey)
	}
	return append(env, e.extraEnv...)
}

func (e *testEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, passpushBinary, args...)
	cmd.Dir = e.dir
	cmd.Env = e.environ()
	return cmd
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs passpush to the end.
func (e *testEnv) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		e.t.Fatalf("run passpush %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// mustRun runs passpush and fails the test unless it exits 0.
func (e *testEnv) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("passpush %s exited %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (e *testEnv) writeFile(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}
