package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/service"
)

const (
	startTimeout = time.Minute
	stopTimeout  = 30 * time.Second
)

// passpushCLI runs one-off passpush commands on the benchmark's database.
type passpushCLI struct {
	binary, dir, databaseURL string
	// secretKey is the run's PASSPUSH_SECRET_KEY, which PostgreSQL requires: the run's database is its own, and
	// the CLI and serve share the key.
	secretKey string
}

func (p passpushCLI) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PASSPUSH_") {
			env = append(env, kv)
		}
	}
	// The receiver is a local http server, which only the development webhook policy lets passpush call.
	env = append(env, webhooktest.Env...)
	return append(append(env, "PASSPUSH_DATABASE_URL="+p.databaseURL, "PASSPUSH_LOG_LEVEL=warn", "PASSPUSH_SECRET_KEY="+p.secretKey), extra...)
}

func (p passpushCLI) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.binary, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("passpush %s: %w\n%s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func buildPassPush(ctx context.Context, dir string) (string, error) {
	binary := filepath.Join(dir, "passpush")
	// No -race, no coverage: the figures are about the binary operators run.
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "github.com/passpush/passpush")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build passpush: %w", err)
	}
	return binary, nil
}

// runningService is passpush serving HTTP on loopback.
type runningService interface {
	baseURL() string
	// baseURLs are the instances the execute calls are spread over: one, but with -instances.
	baseURLs() []string
	pid() int
	logPath() string
	stop() error
}

// subprocess is `passpush serve`.
type subprocess struct {
	url, log string
	cmd      *exec.Cmd
	exited   chan error
}

func startSubprocess(ctx context.Context, p passpushCLI, adminToken, logName string) (*subprocess, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(p.dir, logName)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the benchmark stops it with SIGTERM, gracefully, and reads its /proc entry first.
	cmd := exec.Command(p.binary, "serve")
	cmd.Dir = p.dir
	cmd.Env = p.env("PASSPUSH_HTTP_ADDR="+addr, "PASSPUSH_ADMIN_TOKEN="+adminToken)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the benchmark dies, so does the service.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start passpush serve: %w", err)
	}
	s := &subprocess{url: "http://" + addr, log: logPath, cmd: cmd, exited: make(chan error, 1)}
	go func() {
		s.exited <- cmd.Wait()
		_ = logFile.Close()
	}()
	if err := waitHealthy(ctx, s.url, s.exited); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%w (log: %s)\n%s", err, logPath, benchkit.Tail(logPath, 20))
	}
	return s, nil
}

func (s *subprocess) baseURL() string    { return s.url }
func (s *subprocess) baseURLs() []string { return []string{s.url} }
func (s *subprocess) pid() int           { return s.cmd.Process.Pid }
func (s *subprocess) logPath() string    { return s.log }

func (s *subprocess) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		s.exited <- err
		return fmt.Errorf("passpush serve did not stop within %s after SIGTERM; killed", stopTimeout)
	}
}

func waitHealthy(ctx context.Context, baseURL string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get(baseURL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("passpush serve exited during start: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("passpush serve not healthy within %s", startTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cluster is several `passpush serve` on one PostgreSQL database (-instances). The audit API, the CPU sample and
// the peak RSS are the first instance's; the execute calls go to every one.
type cluster []*subprocess

func (c cluster) baseURL() string { return c[0].url }
func (c cluster) baseURLs() []string {
	urls := make([]string, len(c))
	for i, s := range c {
		urls[i] = s.url
	}
	return urls
}
func (c cluster) pid() int        { return c[0].pid() }
func (c cluster) logPath() string { return c[0].log }

// stop stops every instance at once, as an orchestrator rolling them all would.
func (c cluster) stop() error {
	errs := make(chan error, len(c))
	for _, s := range c {
		go func() { errs <- s.stop() }()
	}
	var all []error
	for range c {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// inProcess is the service run in this process, so runtime/pprof can profile it.
type inProcess struct{ *benchkit.Service }

func (s inProcess) baseURL() string    { return s.URL }
func (s inProcess) baseURLs() []string { return []string{s.URL} }
func (s inProcess) pid() int           { return os.Getpid() }
func (s inProcess) logPath() string    { return s.LogPath }
func (s inProcess) stop() error        { return s.Stop() }

// setUpInProcess starts the service in this process, adds the tenant through the management API and imports
// the passes through the application, as pass import does, then waits for the read model to show them.
func setUpInProcess(ctx context.Context, o options, dir, adminToken, tenantID, webhookURL string, passIDs []string) (runningService, error) {
	svc, err := benchkit.StartService(ctx, benchkit.ServiceOptions{DatabaseURL: o.databaseURL, Dir: dir, AdminToken: adminToken,
		// The receiver is this process's, on loopback over http, as PASSPUSH_ALLOW_INSECURE_WEBHOOKS and PASSPUSH_WEBHOOK_ALLOW_CIDRS let serve use.
		Config: func(string) service.Config {
			return service.Config{Webhook: webhook.Config{AllowInsecure: true, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
		}})
	if err != nil {
		return nil, err
	}
	s := inProcess{svc}
	fail := func(err error) (runningService, error) {
		_ = s.stop()
		return nil, err
	}
	benchkit.Logf("adding tenant %s (webhook %s, %s per call)", tenantID, webhookURL, o.receiverDelay)
	body, _ := json.Marshal(map[string]any{
		"sfmcSigningSecrets": []string{sfmcSecret},
		"webhook":            map[string]string{"url": webhookURL, "secret": webhookSecret},
	})
	if status, resp, err := benchkit.AdminCall(ctx, http.MethodPut, s.URL+"/api/admin/tenants/"+tenantID, adminToken, body); err != nil || status/100 != 2 {
		return fail(fmt.Errorf("add tenant: %d %s %v", status, resp, err))
	}
	importStart := time.Now()
	const batch = 1000
	for i := 0; i < len(passIDs); i += batch {
		cmd := command.ImportPasses{TenantID: tenantID}
		for j := i; j < min(i+batch, len(passIDs)); j++ {
			cmd.Passes = append(cmd.Passes, command.RegisterPass{TenantID: tenantID, PassID: passIDs[j], Details: passDetails(j)})
		}
		if _, err := s.Svc.App.Commands.ImportPasses.Handle(ctx, cmd); err != nil {
			return fail(fmt.Errorf("import passes: %w", err))
		}
	}
	// The projection applies events in order: once the last pass shows, every pass does.
	last := s.URL + "/api/" + tenantID + "/passes/" + passIDs[len(passIDs)-1]
	deadline := time.Now().Add(startTimeout)
	for {
		status, _, err := benchkit.AdminCall(ctx, http.MethodGet, last, adminToken, nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the passes read model did not show the import within %s", startTimeout))
		}
		time.Sleep(50 * time.Millisecond)
	}
	benchkit.Logf("imported %d passes in %s", len(passIDs), time.Since(importStart).Round(time.Millisecond))
	return s, nil
}
