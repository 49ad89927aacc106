package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const adminToken = "test-admin-token-0123456789"

// server is a running `passpush serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	done chan struct{}

	mu  sync.Mutex
	log strings.Builder
}

// startServe starts serve on a random port, with env added to the test's environment, and returns once it logs
// that it listens.
func (e *testEnv) startServe(env ...string) *server {
	e.t.Helper()
	cmd := e.command(context.WithoutCancel(e.t.Context()), "serve")
	cmd.Env = append(append(cmd.Env, "PASSPUSH_HTTP_ADDR=127.0.0.1:0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start serve: %v", err)
	}
	s := &server{t: e.t, cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go s.readLog(stderr, listening)
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})

	select {
	case s.addr = <-listening:
		return s
	case <-s.done:
		e.t.Fatalf("serve exited before listening:\n%s", s.logs())
	case <-time.After(90 * time.Second):
		e.t.Fatalf("serve did not log listening within 90s:\n%s", s.logs())
	}
	return nil
}

// readLog keeps serve's log for failure messages and picks the address out of its "listening" line; its stderr
// is not a terminal, so every line is JSON.
func (s *server) readLog(r io.Reader, listening chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.log.WriteString(line + "\n")
		s.mu.Unlock()
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
			select {
			case listening <- entry.Addr:
			default:
			}
		}
	}
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *server) request(method, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v\nserve log:\n%s", method, path, err, s.logs())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stop sends SIGTERM and returns serve's exit code.
func (s *server) stop() int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("signal serve: %v", err)
	}
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		s.t.Fatalf("serve did not stop within 30s of SIGTERM:\n%s", s.logs())
		return -1
	}
}

func TestServe_killNineRightAfterA2xxPutLosesNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.mustRun("tenant", "add", "acme", "--sfmc-signing-secret", "cli-sfmc-secret-1")

	first := e.startServe("PASSPUSH_ADMIN_TOKEN=" + adminToken)
	if status, body := first.request(http.MethodGet, "/healthz", ""); status != http.StatusOK {
		t.Fatalf("GET /healthz = %d %s", status, body)
	}
	status, body := first.request(http.MethodPut, "/api/acme/passes/p-1", `{"passType":"loyalty","email":"a@b.c","data":{"points":"1"}}`)
	if status < 200 || status > 299 {
		t.Fatalf("PUT pass = %d %s\nserve log:\n%s", status, body, first.logs())
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 serve: %v", err)
	}
	<-first.done

	second := e.startServe("PASSPUSH_ADMIN_TOKEN=" + adminToken)
	// The read model may apply the stored event only after the restart, so the GET is polled with a deadline.
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body = second.request(http.MethodGet, "/api/acme/passes/p-1", "")
		if status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusOK {
		t.Fatalf("GET pass after kill -9 and restart = %d %s\nserve log:\n%s", status, body, second.logs())
	}
	var p shownPass
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("GET pass body %q: %v", body, err)
	}
	if p.PassID != "p-1" || p.Email != "a@b.c" || p.Data["points"] != "1" {
		t.Errorf("pass after restart = %+v", p)
	}

	if code := second.stop(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM, want 0:\n%s", code, second.logs())
	}
}

func TestServe_warnsThatTheManagementAPIIsOffWithoutAnAdminToken(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	s := e.startServe()
	if !strings.Contains(s.logs(), "PASSPUSH_ADMIN_TOKEN") || !strings.Contains(s.logs(), "401") {
		t.Errorf("serve without an admin token does not say why the management API answers 401:\n%s", s.logs())
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM, want 0", code)
	}
}

// TestServe_logsItsCollectorSettings: serve collects garbage with its own defaults unless GOGC or GOMEMLIMIT is set.
func TestServe_logsItsCollectorSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{nil, []string{`"gogc":400`, `"gomemlimit_mib":100`}},
		{[]string{"GOGC=150", "GOMEMLIMIT=300MiB"}, []string{`"gogc":150`, `"gomemlimit_mib":300`}},
	} {
		s := newTestEnv(t).startServe(c.env...)
		for _, want := range c.want {
			if !strings.Contains(s.logs(), want) {
				t.Errorf("serve with %v does not log %s:\n%s", c.env, want, s.logs())
			}
		}
		if code := s.stop(); code != 0 {
			t.Errorf("serve exited %d after SIGTERM, want 0", code)
		}
	}
}
