// Package faults is passpush's fault-injection suite: each test starts the real passpush binary (three instances
// where a fault needs another instance to take over), drives it as Journey Builder does, injects one fault, and
// checks passpush's promise: every execute call answered 200 leads to exactly one delivered eventId at the
// tenant's webhook, in order per pass, with nothing on the poison topic. A duplicate is allowed only where a
// delivery lease ran out, that is, of an update an instance was pushing when it was killed.
//
// The suite runs only with PASSPUSH_FAULT_TESTS=1, one package at a time (-p 1): its tests stop processes,
// terminate backends and load the machine, so they run one after another and take about a minute each. On
// PostgreSQL each test makes its own database and role, so terminating the role's backends or changing the
// database's settings touches nothing else. The PostgreSQL restart affects the whole server: it also needs
// PASSPUSH_FAULT_RESTART=1 and runs alone.
package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
)

const (
	envFaultTests = "PASSPUSH_FAULT_TESTS"
	envRestart    = "PASSPUSH_FAULT_RESTART"

	tenantID      = "faults"
	sfmcSecret    = "fault-sfmc-signing-secret"
	webhookSecret = "fault-webhook-secret"
	adminToken    = "fault-admin-token-0123456789"
	// signatureHeader is webhook.SignatureHeader, repeated so the receiver checks the wire format.
	signatureHeader = "X-Passpush-Signature"
	executePath     = "/api/" + tenantID + "/webhooks/listeners/sfmc/actions/pushupdate/execute"
)

// passpushBinary is the passpush binary built from this tree, run as an operator runs it.
var passpushBinary string

func TestMain(m *testing.M) {
	if os.Getenv(envFaultTests) != "1" {
		// Every test skips itself; building the binary would only slow the normal `go test ./...` down.
		os.Exit(m.Run())
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "passpush-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	passpushBinary = filepath.Join(dir, "passpush")
	// Never with -race, even when the suite runs with it: the tests measure how fast passpush recovers, on two
	// cores shared with PostgreSQL and the load, and the race runs of ./... already cover the service's code.
	build := exec.Command("go", "build", "-o", passpushBinary, "github.com/passpush/passpush")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build passpush:", err)
		return 1
	}
	return m.Run()
}

func requireFaultTests(t *testing.T) {
	t.Helper()
	if os.Getenv(envFaultTests) != "1" {
		t.Skipf("fault injection runs only with %s=1", envFaultTests)
	}
}

// database is one test's own database: on PostgreSQL a fresh database owned by a fresh role, which the service
// connects as; on SQLite a file in the test's directory.
type database struct {
	t        *testing.T
	url      string // what passpush connects with
	postgres bool
	name     string // PostgreSQL database
	role     string // PostgreSQL role the service logs in as
	// admin connects to the same database as a superuser, for the checks and the faults: the role's backends can
	// be terminated without cutting the test's own connection.
	admin *sqldb.DB
	// secretKey is PASSPUSH_SECRET_KEY for every passpush process on the database: PostgreSQL requires one, and
	// the instances must share it.
	secretKey string
}

func newDatabase(t *testing.T) *database {
	t.Helper()
	base := os.Getenv(sqldbtest.EnvURL)
	if base == "" || base == "sqlite" {
		path := filepath.Join(t.TempDir(), "passpush.db")
		return &database{t: t, url: "sqlite:" + path, secretKey: secretbox.GenerateKeyText()}
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", sqldbtest.EnvURL, err)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	d := &database{t: t, postgres: true, name: "passpush_fault_" + suffix, role: "passpush_fault_" + suffix,
		secretKey: secretbox.GenerateKeyText()}
	server, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", sqldb.Redact(base), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	password := strings.ReplaceAll(uuid.NewString(), "-", "")
	for _, stmt := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", d.role, password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", d.name, d.role),
	} {
		if _, err := server.ExecContext(ctx, stmt); err != nil {
			_ = server.Close()
			t.Fatalf("%s: %v", strings.SplitN(stmt, " PASSWORD", 2)[0], err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if d.admin != nil {
			_ = d.admin.Close()
		}
		// After a PostgreSQL restart the first statements may meet a dead connection: retry for a while.
		for _, stmt := range []string{"DROP DATABASE IF EXISTS " + d.name + " WITH (FORCE)", "DROP ROLE IF EXISTS " + d.role} {
			var err error
			for try := 0; try < 20; try++ {
				if _, err = server.ExecContext(ctx, stmt); err == nil {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err != nil {
				t.Logf("%s: %v", stmt, err)
			}
		}
		_ = server.Close()
	})
	adminURL := *u
	adminURL.Path = "/" + d.name
	d.admin, err = sqldb.Open(ctx, adminURL.String(), sqldb.Config{MaxConns: sqldb.MinMaxConns})
	if err != nil {
		t.Fatalf("connect to %s as admin: %v", d.name, err)
	}
	serviceURL := *u
	serviceURL.User = url.UserPassword(d.role, password)
	serviceURL.Path = "/" + d.name
	d.url = serviceURL.String()
	return d
}

// open connects the checks to the database once passpush has migrated it; on SQLite that is the first time the
// file exists.
func (d *database) open() *sqldb.DB {
	d.t.Helper()
	if d.admin == nil {
		db, err := sqldb.Open(context.Background(), d.url, sqldb.Config{})
		if err != nil {
			d.t.Fatalf("open %s for the checks: %v", d.url, err)
		}
		d.t.Cleanup(func() { _ = db.Close() })
		d.admin = db
	}
	return d.admin
}

func (d *database) exec(query string, args ...any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.open().ExecContext(ctx, query, args...); err != nil {
		d.t.Fatalf("%s: %v", query, err)
	}
}

func (d *database) count(query string, args ...any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	var err error
	// After a PostgreSQL restart the pool's first try may meet a connection the restart closed.
	for try := 0; try < 3; try++ {
		if err = d.open().QueryRowContext(ctx, query, args...).Scan(&n); err == nil {
			return n, nil
		}
	}
	return 0, err
}

// holdLock takes a SHARE lock on table in a transaction of its own for hold, as an operator's CREATE INDEX
// (without CONCURRENTLY) does: every write to the table waits for it.
//
// Not ACCESS EXCLUSIVE: PostgreSQL gives a transaction that takes that lock a transaction id (it logs the lock for
// standbys), and watermill's subscribers read no row written after the oldest open transaction id, to leave no
// gap. The projections would then see no new event and never reach the locked table, and whether the fault
// happened at all would depend on whether a batch was already read when the lock came (it failed 2 runs in 6). It returns how many times, sampled while it held the lock, passpush was seen waiting for
// a lock: none means the fault did not touch passpush.
func (d *database) holdLock(table string, hold time.Duration) (waiting int) {
	d.t.Helper()
	ctx := context.Background()
	tx, err := d.open().BeginTx(ctx, nil)
	if err != nil {
		d.t.Fatalf("begin the locking transaction: %v", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The database's lock_timeout may be the fault itself; the lock holder waits its turn.
	for _, stmt := range []string{"SET LOCAL lock_timeout = '10s'", "LOCK TABLE " + table + " IN SHARE MODE"} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			d.t.Fatalf("%s: %v", stmt, err)
		}
	}
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		n, err := d.count(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.usename = $1`, d.role)
		if err != nil {
			d.t.Fatalf("watch the lock on %s: %v", table, err)
		}
		waiting += n
	}
	if err := tx.Commit(); err != nil {
		d.t.Fatalf("release the lock on %s: %v", table, err)
	}
	return waiting
}

// poisoned describes what sits on the poison topic: how many messages, and the reasons of the first few.
func (d *database) poisoned() (int, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := d.open().QueryContext(ctx, `SELECT COALESCE(CAST(metadata AS TEXT), '') FROM watermill_poison ORDER BY "offset"`)
	if err != nil {
		return 0, nil, fmt.Errorf("read the poison topic: %w", err)
	}
	defer rows.Close()
	n := 0
	var reasons []string
	for rows.Next() {
		var metadata string
		if err := rows.Scan(&metadata); err != nil {
			return 0, nil, fmt.Errorf("read the poison topic: %w", err)
		}
		n++
		if len(reasons) < 3 {
			var m map[string]string
			if json.Unmarshal([]byte(metadata), &m) == nil && m["reason_poisoned"] != "" {
				metadata = m["reason_poisoned"]
			}
			reasons = append(reasons, metadata)
		}
	}
	return n, reasons, rows.Err()
}

// backends counts the PostgreSQL connections passpush's role holds.
func (d *database) backends() (int, error) {
	return d.count(`SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, d.role)
}

// terminateBackends ends every connection of passpush's role, as an operator's pg_terminate_backend would.
func (d *database) terminateBackends() int {
	d.t.Helper()
	n, err := d.count(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1) AS terminated`, d.role)
	if err != nil {
		d.t.Fatalf("terminate the backends of %s: %v", d.role, err)
	}
	return n
}

// passpushEnv is the test process's environment without any PASSPUSH_ setting, plus the database, so a
// variable in the developer's shell cannot change what a test sees.
func (d *database) passpushEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PASSPUSH_") {
			env = append(env, kv)
		}
	}
	// The receiver is a local http server, which only the development policy lets passpush call.
	env = append(env, webhooktest.Env...)
	return append(append(env, "PASSPUSH_DATABASE_URL="+d.url, "PASSPUSH_SECRET_KEY="+d.secretKey), extra...)
}

// run runs a passpush command to the end and fails the test unless it exits 0.
func (d *database) run(dir string, args ...string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, passpushBinary, args...)
	cmd.Dir = dir
	cmd.Env = d.passpushEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("passpush %s: %v\n%s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	return stdout.String()
}

// instance is one running `passpush serve`.
type instance struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	url     string
	logPath string
	done    chan struct{}
	// alive is false from the moment the test stops it, so the load sends it nothing more.
	alive atomic.Bool
}

// startInstance starts serve on a random port and returns once it logs that it listens.
func (d *database) startInstance(dir, name string, env ...string) *instance {
	d.t.Helper()
	cmd := exec.Command(passpushBinary, "serve")
	cmd.Dir = dir
	cmd.Env = d.passpushEnv(append([]string{"PASSPUSH_HTTP_ADDR=127.0.0.1:0", "PASSPUSH_ADMIN_TOKEN=" + adminToken}, env...)...)
	// If the test binary dies, its services die with it instead of holding the database.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	in := &instance{t: d.t, name: name, cmd: cmd, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(in.logPath)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		d.t.Fatalf("start %s: %v", name, err)
	}
	listening := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyLog(stderr, logFile, listening)
	}()
	go func() {
		<-copied // Wait must not close the pipe before the log is read to its end
		_ = cmd.Wait()
		_ = logFile.Close()
		close(in.done)
	}()
	d.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-in.done
	})
	select {
	case addr := <-listening:
		in.url = "http://" + addr
		in.alive.Store(true)
		return in
	case <-in.done:
		d.t.Fatalf("%s exited before listening:\n%s", name, in.logTail(30))
	case <-time.After(60 * time.Second):
		d.t.Fatalf("%s did not listen within 60s:\n%s", name, in.logTail(30))
	}
	return nil
}

// copyLog writes serve's log to a file and picks the address out of its "listening" line; its stderr is not a
// terminal, so every line is JSON.
func copyLog(r io.Reader, w io.Writer, listening chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = w.Write(append(line, '\n'))
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
			select {
			case listening <- entry.Addr:
			default:
			}
		}
	}
}

func (in *instance) log() string {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", in.logPath, err)
	}
	return string(b)
}

func (in *instance) logTail(lines int) string {
	all := strings.Split(strings.TrimRight(in.log(), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// logLines counts the log lines that contain any of the substrings.
func (in *instance) logLines(substrings ...string) int {
	n := 0
	for _, line := range strings.Split(in.log(), "\n") {
		for _, s := range substrings {
			if strings.Contains(line, s) {
				n++
				break
			}
		}
	}
	return n
}

// ownedPorts returns the local TCP ports of the sockets the process holds, from /proc: the receiver tells an
// instance's pushes from the others' by them.
func (in *instance) ownedPorts() map[string]bool {
	pid := in.cmd.Process.Pid
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[string]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if _, hexPort, ok := strings.Cut(f[1], ":"); ok {
				var port int
				if _, err := fmt.Sscanf(hexPort, "%X", &port); err == nil {
					ports[fmt.Sprint(port)] = true
				}
			}
		}
	}
	return ports
}

// busiest waits until an instance is pushing to the receiver and returns the one with the most pushes in
// flight: stopping an idle instance would test nothing.
func (s *scenario) busiest() *instance {
	s.t.Helper()
	var victim *instance
	found := waitFor(10*time.Second, func() bool {
		most := 0
		ports := s.receiver.inFlightPorts()
		for _, in := range s.all() {
			if !in.alive.Load() {
				continue
			}
			owned, n := in.ownedPorts(), 0
			for _, p := range ports {
				if owned[p] {
					n++
				}
			}
			if n > most {
				victim, most = in, n
			}
		}
		return victim != nil
	})
	if !found {
		s.t.Fatalf("no instance was pushing to the receiver within 10s:\n%s", s.logs(20))
	}
	return victim
}

// kill9 kills the process as the kernel's OOM killer or a lost machine would: nothing runs after it.
func (in *instance) kill9() {
	in.t.Helper()
	in.alive.Store(false)
	if err := in.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		in.t.Fatalf("kill -9 %s: %v", in.name, err)
	}
	<-in.done
}

// sigterm stops the process as an orchestrator does and returns its exit code and how long it took.
func (in *instance) sigterm(within time.Duration) (int, time.Duration) {
	in.t.Helper()
	in.alive.Store(false)
	start := time.Now()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatalf("SIGTERM %s: %v", in.name, err)
	}
	select {
	case <-in.done:
		return in.cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(within):
		in.t.Errorf("%s did not stop within %s of SIGTERM:\n%s", in.name, within, in.logTail(30))
		_ = in.cmd.Process.Kill()
		<-in.done
		return -1, time.Since(start)
	}
}

// receiver is the tenant's webhook: it checks every signature and records, per eventId, how often and when it
// arrived, per contact entry (definitionInstanceId) which eventIds carried it, and whether each pass's updates
// came in order. While failing it answers 500, as a receiver in an outage does.
type receiver struct {
	srv       *httptest.Server
	failUntil atomic.Int64 // UnixNano; answers 500 before it
	// delay is how long each call takes (time.Duration): a slow receiver keeps pushes in flight, so a stopped
	// instance surely leaves some behind.
	delay atomic.Int64

	mu           sync.Mutex
	inFlight     map[string]int // remote port → calls being answered on that connection
	calls        int
	failed       int
	badSignature int
	events       map[string]*receivedEvent
	byEntry      map[string][]string // definitionInstanceId → distinct eventIds, in arrival order
	lastVersion  map[string]int      // passId → highest version delivered
	outOfOrder   []string
}

type receivedEvent struct {
	passID, entry string
	version       int
	deliveries    int
	first         time.Time
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{events: map[string]*receivedEvent{}, byEntry: map[string][]string{}, lastVersion: map[string]int{}, inFlight: map[string]int{}}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	now := time.Now()
	signed := webhooktest.Verify(req.Header.Get(signatureHeader), body, webhookSecret, now) == nil
	var d struct {
		EventID              string `json:"eventId"`
		PassID               string `json:"passId"`
		Version              int    `json:"version"`
		DefinitionInstanceID string `json:"definitionInstanceId"`
	}
	parseErr := json.Unmarshal(body, &d)

	_, port, _ := strings.Cut(req.RemoteAddr, ":")
	defer func() {
		r.mu.Lock()
		if r.inFlight[port]--; r.inFlight[port] <= 0 {
			delete(r.inFlight, port)
		}
		r.mu.Unlock()
	}()
	// The update has arrived once its body is read, whether or not passpush waits for the answer.
	defer time.Sleep(time.Duration(r.delay.Load()))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight[port]++
	r.calls++
	switch {
	case err != nil || !signed || parseErr != nil || d.EventID == "":
		// A 4xx is final for passpush: the update shows as missing, with this count saying why.
		r.badSignature++
		w.WriteHeader(http.StatusUnauthorized)
		return
	case now.UnixNano() < r.failUntil.Load():
		r.failed++
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if e, seen := r.events[d.EventID]; seen {
		e.deliveries++
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.events[d.EventID] = &receivedEvent{passID: d.PassID, entry: d.DefinitionInstanceID, version: d.Version, deliveries: 1, first: now}
	r.byEntry[d.DefinitionInstanceID] = append(r.byEntry[d.DefinitionInstanceID], d.EventID)
	if d.Version <= r.lastVersion[d.PassID] {
		r.outOfOrder = append(r.outOfOrder, fmt.Sprintf("%s: version %d after %d", d.PassID, d.Version, r.lastVersion[d.PassID]))
	}
	r.lastVersion[d.PassID] = max(r.lastVersion[d.PassID], d.Version)
	w.WriteHeader(http.StatusNoContent)
}

// inFlightPorts returns the client ports of the calls being answered.
func (r *receiver) inFlightPorts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ports []string
	for p := range r.inFlight {
		ports = append(ports, p)
	}
	return ports
}

// failFor makes the receiver answer 500 from now for d.
func (r *receiver) failFor(d time.Duration) time.Time {
	until := time.Now().Add(d)
	r.failUntil.Store(until.UnixNano())
	return until
}

// missing returns the contact entries of which no update has arrived.
func (r *receiver) missing(entries []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range entries {
		if len(r.byEntry[e]) == 0 {
			out = append(out, e)
		}
	}
	return out
}

// firstDeliveryOf returns when the first update of the given contact entries arrived.
func (r *receiver) firstDeliveryOf(entries []string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, e := range entries {
		for _, id := range r.byEntry[e] {
			if at := r.events[id].first; first.IsZero() || at.Before(first) {
				first = at
			}
		}
	}
	return first, !first.IsZero()
}

// scenario is passpush on the test's database with a tenant whose webhook is the receiver, its passes imported,
// and its instances serving.
type scenario struct {
	t        *testing.T
	db       *database
	dir      string
	receiver *receiver
	passes   []string
	env      []string
	next     atomic.Uint64

	// mu guards instances: a test starts a replacement while the load picks targets.
	mu        sync.Mutex
	instances []*instance
}

// newScenario imports passCount passes and starts instances serves, each with env.
func newScenario(t *testing.T, db *database, passCount, instances int, env ...string) *scenario {
	t.Helper()
	s := &scenario{t: t, db: db, dir: t.TempDir(), receiver: newReceiver(t), env: env}
	db.run(s.dir, "tenant", "add", tenantID, "--sfmc-signing-secret", sfmcSecret,
		"--webhook-url", s.receiver.srv.URL+"/webhook", "--webhook-secret", webhookSecret)
	var lines strings.Builder
	for i := range passCount {
		id := fmt.Sprintf("p-%04d", i)
		s.passes = append(s.passes, id)
		fmt.Fprintf(&lines, `{"passId":%q,"passType":"loyalty","email":"%s@example.com","data":{"points":"0"}}`+"\n", id, id)
	}
	file := filepath.Join(s.dir, "passes.jsonl")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db.run(s.dir, "pass", "import", "--tenant", tenantID, file)
	for range instances {
		s.start()
	}
	return s
}

// start starts one more instance, for a second one or to replace a stopped one.
func (s *scenario) start() *instance {
	s.t.Helper()
	in := s.db.startInstance(s.dir, fmt.Sprintf("serve-%d", len(s.all())+1), s.env...)
	s.mu.Lock()
	s.instances = append(s.instances, in)
	s.mu.Unlock()
	return in
}

// all returns the instances started so far, serving or stopped.
func (s *scenario) all() []*instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.instances)
}

// target spreads calls over the instances that are serving.
func (s *scenario) target() (string, bool) {
	n := s.next.Add(1)
	all := s.all()
	for i := range len(all) {
		in := all[(int(n)+i)%len(all)]
		if in.alive.Load() {
			return in.url, true
		}
	}
	return "", false
}

// logs joins every instance's log tail for a failure message.
func (s *scenario) logs(lines int) string {
	var b strings.Builder
	for _, in := range s.all() {
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", in.name, lines, in.logTail(lines))
	}
	return b.String()
}

func (s *scenario) logLines(substrings ...string) int {
	n := 0
	for _, in := range s.all() {
		n += in.logLines(substrings...)
	}
	return n
}

// call is one execute call: a new contact entry reaching the activity for one pass.
type call struct {
	entry    string // definitionInstanceId
	status   int    // 0: no answer
	err      string
	sent     time.Time
	answered time.Time
}

func (c call) acknowledged() bool { return c.status == http.StatusOK }

// load sends execute calls at a steady rate, each a new contact entry for the next pass round-robin, as Journey
// Builder does for a journey's contacts.
type load struct {
	s     *scenario
	calls []call
	next  atomic.Int64
	acked atomic.Int64
	done  chan struct{}
	start time.Time
}

// startLoad sends rate calls a second for d from workers goroutines; a call Journey Builder would time out
// after 60 s is given up after 30 s here.
func (s *scenario) startLoad(rate float64, d time.Duration) *load {
	l := &load{s: s, calls: make([]call, int(rate*d.Seconds())), done: make(chan struct{}), start: time.Now()}
	runID := uuid.NewString()[:8]
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute},
	}
	const workers = 64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(l.next.Add(1) - 1)
				if i >= len(l.calls) {
					return
				}
				// Open loop: call i is due at i/rate whether or not earlier calls have come back.
				if wait := time.Until(l.start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
					time.Sleep(wait)
				}
				l.calls[i] = l.send(client, runID, i)
				if l.calls[i].acknowledged() {
					l.acked.Add(1)
				}
			}
		})
	}
	go func() {
		wg.Wait()
		client.CloseIdleConnections()
		close(l.done)
	}()
	return l
}

func (l *load) send(client *http.Client, runID string, i int) call {
	c := call{entry: fmt.Sprintf("%s-%05d", runID, i)}
	base, ok := l.s.target()
	if !ok {
		c.err = "no instance serving"
		return c
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"inArguments":          []map[string]string{{"passId": l.s.passes[i%len(l.s.passes)]}, {"points": fmt.Sprint(i)}},
		"outArguments":         []any{},
		"activityObjectID":     "fault-activity-object",
		"journeyId":            "fault-journey-" + runID,
		"activityId":           "fault-activity",
		"definitionInstanceId": c.entry,
		"activityInstanceId":   "fault-activity-instance",
		"keyValue":             fmt.Sprintf("contact-%d", i),
		"mode":                 0,
	}).SignedString([]byte(sfmcSecret))
	if err != nil {
		c.err = err.Error()
		return c
	}
	req, err := http.NewRequest(http.MethodPost, base+executePath, strings.NewReader(token))
	if err != nil {
		c.err = err.Error()
		return c
	}
	req.Header.Set("Content-Type", "application/jwt")
	c.sent = time.Now()
	res, err := client.Do(req)
	c.answered = time.Now()
	if err != nil {
		c.err = err.Error()
		return c
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	_ = res.Body.Close()
	c.status = res.StatusCode
	var scheduled struct {
		Status string `json:"status"`
		Passes int    `json:"passes"`
	}
	if res.StatusCode == http.StatusOK && (json.Unmarshal(body, &scheduled) != nil || scheduled.Status != "scheduled" || scheduled.Passes != 1) {
		// A 200 that schedules nothing would make every later check vacuous.
		c.status, c.err = -1, "200 without one scheduled pass: "+string(body)
	}
	if res.StatusCode != http.StatusOK {
		c.err = strings.TrimSpace(string(body))
	}
	return c
}

// waitAcknowledged returns once n calls were answered 200, so a fault lands in the middle of a load that works.
func (l *load) waitAcknowledged(n int) {
	l.s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.acked.Load() < int64(n) {
		if time.Now().After(deadline) {
			l.s.t.Fatalf("only %d of the first %d execute calls answered 200 within 30s before the fault:\n%s", l.acked.Load(), n, l.s.logs(20))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait returns the calls once all have been answered or given up.
func (l *load) wait() []call {
	l.s.t.Helper()
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		l.s.t.Fatal("the load did not finish within 2 minutes")
	}
	return l.calls
}

// outcome sums the calls up by status for the log and failure messages.
func outcome(calls []call) string {
	byStatus := map[string]int{}
	samples := map[string]string{}
	for _, c := range calls {
		key := fmt.Sprint(c.status)
		if c.status == 0 {
			key = "no answer"
		}
		byStatus[key]++
		if _, ok := samples[key]; !ok && c.err != "" {
			samples[key] = c.err
		}
	}
	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		part := fmt.Sprintf("%s: %d", k, byStatus[k])
		if s := samples[k]; s != "" {
			part += fmt.Sprintf(" (e.g. %.200s)", s)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

func acknowledgedEntries(calls []call) []string {
	var out []string
	for _, c := range calls {
		if c.acknowledged() {
			out = append(out, c.entry)
		}
	}
	return out
}

// promise says what the checks allow.
type promise struct {
	// within bounds how long after the load the last acknowledged update may arrive.
	within time.Duration
	// leaseRanOutAt is when an instance was killed: a duplicate is allowed only of an update that first arrived
	// before it, since only those can have been pushed without their outcome being recorded.
	leaseRanOutAt time.Time
}

// checkPromise waits for every acknowledged update to arrive and the delivery queue to drain, then checks the
// promise: one eventId per acknowledged call, delivered once (duplicates only where a lease ran out), in order per
// pass, and nothing on the poison topic. It reports every broken part, not only the first.
func (s *scenario) checkPromise(calls []call, p promise) {
	s.t.Helper()
	entries := acknowledgedEntries(calls)
	if len(entries) == 0 {
		s.t.Fatalf("no execute call was answered 200: %s\n%s", outcome(calls), s.logs(30))
	}
	loadEnd := time.Now()
	deadline := loadEnd.Add(p.within)
	var missing []string
	pending, pendingErr := -1, error(nil)
	for {
		missing = s.receiver.missing(entries)
		if len(missing) == 0 {
			pending, pendingErr = s.db.count(`SELECT count(*) FROM deliveries`)
			if pendingErr == nil && pending == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	drained := time.Since(loadEnd)
	if len(missing) > 0 {
		pending, pendingErr = s.db.count(`SELECT count(*) FROM deliveries`)
	}
	s.t.Logf("execute calls: %s; %d acknowledged; %d of them delivered %.1fs after the load ended",
		outcome(calls), len(entries), len(entries)-len(missing), drained.Seconds())

	if len(missing) > 0 {
		s.t.Errorf("%d of %d updates answered 200 were not delivered within %s of the load's end (e.g. contact entries %v); %d deliveries still queued (%v)",
			len(missing), len(entries), p.within, missing[:min(3, len(missing))], pending, pendingErr)
	} else if pending != 0 {
		s.t.Errorf("every acknowledged update arrived, but %d deliveries were still queued %s after the load (%v)", pending, p.within, pendingErr)
	}

	n, reasons, err := s.db.poisoned()
	switch {
	case err != nil:
		s.t.Errorf("check the poison topic: %v", err)
	case n > 0:
		s.t.Errorf("%d messages on the poison topic (watermill_poison), e.g. %q", n, reasons)
	}

	s.receiver.mu.Lock()
	defer s.receiver.mu.Unlock()
	var several []string
	for _, e := range entries {
		if ids := s.receiver.byEntry[e]; len(ids) > 1 {
			several = append(several, fmt.Sprintf("%s: %v", e, ids))
		}
	}
	if len(several) > 0 {
		s.t.Errorf("%d acknowledged calls led to more than one eventId, e.g. %v", len(several), several[:min(3, len(several))])
	}
	duplicates, unexplained := 0, 0
	var example string
	var earliest time.Time
	for id, e := range s.receiver.events {
		if e.deliveries == 1 {
			continue
		}
		duplicates += e.deliveries - 1
		if earliest.IsZero() || e.first.Before(earliest) {
			earliest = e.first
		}
		// A push in flight when its instance died may have reached the receiver a moment after the kill.
		if p.leaseRanOutAt.IsZero() || e.first.After(p.leaseRanOutAt.Add(100*time.Millisecond)) {
			unexplained += e.deliveries - 1
			if example == "" {
				example = fmt.Sprintf("eventId %s of %s delivered %d times, first at %s", id, e.passID, e.deliveries, e.first.Format("15:04:05.000"))
			}
		}
	}
	s.t.Logf("receiver: %d calls, %d answered 500, %d unique eventIds, %d duplicate deliveries", s.receiver.calls, s.receiver.failed,
		len(s.receiver.events), duplicates)
	if duplicates > 0 && !p.leaseRanOutAt.IsZero() {
		s.t.Logf("the duplicated updates first arrived from %.2fs before the kill", p.leaseRanOutAt.Sub(earliest).Seconds())
	}
	if unexplained > 0 {
		s.t.Errorf("%d duplicate deliveries where no lease ran out, e.g. %s", unexplained, example)
	}
	if s.receiver.badSignature > 0 {
		s.t.Errorf("%d deliveries with a bad signature or body", s.receiver.badSignature)
	}
	if len(s.receiver.outOfOrder) > 0 {
		s.t.Errorf("%d updates arrived out of order per pass, e.g. %v", len(s.receiver.outOfOrder), s.receiver.outOfOrder[:min(3, len(s.receiver.outOfOrder))])
	}
	if s.t.Failed() {
		s.t.Logf("instance logs:\n%s", s.logs(15))
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
