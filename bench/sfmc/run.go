package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/domain/pass"
)

// Targets from issue 3, on this 2-core machine.
const (
	targetRawShare   = 0.40                  // PostgreSQL: execute throughput ≥ 40% of the raw publish rate
	targetP99        = 25 * time.Millisecond // PostgreSQL: execute p99
	targetDelivered  = 2000.0                // PostgreSQL: pass updates/s delivered end to end
	targetRSS        = 150 << 20             // PostgreSQL: peak RSS of the service
	targetSQLiteRate = 1500.0                // SQLite: execute calls/s
)

const (
	sfmcSecret    = "bench-sfmc-jwt-signing-secret"
	webhookSecret = "bench-webhook-secret"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func run(ctx context.Context, o options) (err error) {
	dir, err := os.MkdirTemp("", "passpush-sfmc-bench-")
	if err != nil {
		return err
	}
	// The service's log is kept when something went wrong.
	defer func() {
		var miss benchkit.Missed
		if err == nil || errors.As(err, &miss) {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Fprintf(os.Stderr, "bench/sfmc: kept %s (service logs: serve*.log)\n", dir)
		}
	}()

	if err := checkFresh(ctx, o); err != nil {
		return err
	}
	if o.binary == "" && !o.inprocess {
		benchkit.Logf("building passpush")
		if o.binary, err = buildPassPush(ctx, dir); err != nil {
			return err
		}
	}

	// Other work on the machine skews every figure: say how busy it was before the run.
	busyBefore := benchkit.MachineBusy(time.Second)
	benchkit.Logf("machine %.0f%% busy before the run", 100*busyBefore)

	// 1. The ceiling, before anything else runs on the database.
	var raw rawResult
	if !o.skipRaw {
		benchkit.Logf("raw watermill-sql publish: %d goroutines for %s on topic %s", o.rawWorkers, o.rawDuration, rawTopic)
		if raw, err = measureRawPublish(ctx, o); err != nil {
			return err
		}
		benchkit.Logf("raw publish: %d messages in %s = %.0f msg/s (%d errors)", raw.messages, raw.elapsed.Round(time.Millisecond), raw.rate(), raw.errors)
	}

	// 2. The tenant, its webhook, the passes, then the service.
	tl := newTimeline(int(o.timeout / time.Second))
	rcv, err := startReceiver(webhookSecret, o.receiverDelay, tl)
	if err != nil {
		return err
	}
	defer rcv.close()

	runID := strconv.FormatInt(time.Now().Unix(), 36)
	tenantID := "bench-" + runID
	adminToken := randomHex(24)
	passIDs, file, err := writePasses(dir, o.passes)
	if err != nil {
		return err
	}

	var svc runningService
	var mode string
	if o.inprocess {
		mode = "in-process service (-inprocess)"
		svc, err = setUpInProcess(ctx, o, dir, adminToken, tenantID, rcv.url, passIDs)
	} else {
		mode = "passpush serve (subprocess)"
		if o.instances > 1 {
			mode = fmt.Sprintf("%d passpush serve instances on one database (subprocesses; CPU and RSS are the first one's)", o.instances)
		}
		svc, err = setUpSubprocess(ctx, o, dir, adminToken, tenantID, rcv.url, file)
	}
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = svc.stop()
		}
	}()
	benchkit.Logf("%s listening on %s, pid %d", mode, svc.baseURL(), svc.pid())

	// 3. Execute load, with the optional profile around it and the delivery phase.
	var stopProfile func() error
	stopActivity := func() *pgActivity { return nil }
	var cpuStart, cpuExecEnd, cpuEnd cpuSample
	var pgStart pgCPU
	start := func() {
		if o.split && o.backend() == "PostgreSQL" {
			pgStart = samplePGCPU(ctx, o.databaseURL)
		}
		cpuStart = sampleCPU(svc.pid())
		stopProfile = startProfile(o, svc.pid())
		if o.pgActivity > 0 {
			stopActivity = samplePGActivity(ctx, o.databaseURL, o.pgActivity)
		}
	}
	what := fmt.Sprintf("%d calls", o.calls)
	if o.duration > 0 {
		what = "calls for " + o.duration.String()
	}
	benchkit.Logf("execute: %s at concurrency %d over %d passes", what, o.concurrency, o.passes)
	load := driveExecute(ctx, o, svc.baseURLs(), tenantID, sfmcSecret, runID, passIDs, tl, start)
	cpuExecEnd = sampleCPU(svc.pid())
	benchkit.Logf("execute: %d sent, %d scheduled (200) in %s = %.0f calls/s", load.sent, load.ok, load.elapsed().Round(time.Millisecond), load.throughput())
	if o.split {
		// The split schedules nothing: there is nothing to drain.
		var pgUsed time.Duration
		var pgCommits int64
		var pgBackends [2]int
		pgErr := errors.New("not PostgreSQL")
		if o.backend() == "PostgreSQL" {
			// The backends report their commits to pg_stat_database when idle or within a second.
			time.Sleep(1500 * time.Millisecond)
			pgEnd := samplePGCPU(ctx, o.databaseURL)
			pgUsed, pgCommits, pgErr = pgCPUBetween(pgStart, pgEnd)
			pgBackends = [2]int{len(pgStart.byPID), len(pgEnd.byPID)}
		}
		_ = stopProfile()
		stopErr := svc.stop()
		stopped = true
		missed := printSplit(os.Stdout, o, load, busyBefore, cpuBetween(cpuStart, cpuExecEnd), pgUsed, pgCommits, pgBackends, pgErr)
		if stopErr != nil {
			return fmt.Errorf("stop service: %w", stopErr)
		}
		if missed > 0 {
			return benchkit.Missed{N: missed}
		}
		return nil
	}

	// 4. Until every scheduled update is delivered and has its PushUpdateEmitted.
	benchkit.Logf("waiting for %d deliveries and PushUpdateEmitted events", load.scheduled)
	drained := waitForDeliveries(ctx, o, svc, tenantID, adminToken, load, rcv)
	cpuEnd = sampleCPU(svc.pid())
	profileErr := stopProfile()
	activity := stopActivity()

	logDeliveriesPerInstance(ctx, svc.baseURLs())

	// 5. Peak RSS, before the service stops.
	hwm, rss, memErr := benchkit.Memory(svc.pid())
	logLines := benchkit.CountLines(svc.logPath())
	// Measuring is over: follow the updates through the stages with the audit API.
	st := analyseStages(ctx, svc.baseURL(), tenantID, adminToken, runID, load, rcv, drained)
	stopErr := svc.stop()
	stopped = true

	s := summary{
		o: o, mode: mode, raw: raw, busyBefore: busyBefore, load: load, drain: drained, tl: tl, stages: st,
		execCPU: cpuBetween(cpuStart, cpuExecEnd), drainCPU: cpuBetween(cpuExecEnd, cpuEnd),
		hwm: hwm, rss: rss, memErr: memErr, logPath: svc.logPath(), logLines: logLines, activity: activity,
	}
	missed := s.print(os.Stdout)
	var errs []error
	if profileErr != nil {
		errs = append(errs, fmt.Errorf("profile: %w", profileErr))
	}
	if stopErr != nil {
		errs = append(errs, fmt.Errorf("stop service: %w", stopErr))
	}
	if memErr != nil {
		errs = append(errs, fmt.Errorf("read peak RSS: %w", memErr))
	}
	if !drained.complete {
		errs = append(errs, fmt.Errorf("not every update was delivered and emitted: %s", drained.reason))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if missed > 0 {
		return benchkit.Missed{N: missed}
	}
	return nil
}

// writePasses writes n loyalty passes as JSON lines for pass import and returns their ids.
func writePasses(dir string, n int) ([]string, string, error) {
	path := filepath.Join(dir, "passes.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return nil, "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("pass-%06d", i)
		line, err := json.Marshal(struct {
			PassID string `json:"passId"`
			pass.Details
		}{ids[i], passDetails(i)})
		if err != nil {
			_ = f.Close()
			return nil, "", err
		}
		_, _ = w.Write(append(line, '\n'))
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return nil, "", err
	}
	return ids, path, f.Close()
}

// passDetails is pass i, shaped like a loyalty programme's member.
func passDetails(i int) pass.Details {
	return pass.Details{
		PassType: "loyalty",
		Email:    fmt.Sprintf("member%d@example.com", i),
		CustomID: fmt.Sprintf("m-%d", i),
		Data: map[string]string{
			"points": strconv.Itoa((i * 37) % 5000),
			"tier":   []string{"bronze", "silver", "gold"}[i%3],
			"name":   fmt.Sprintf("Member %d", i),
		},
	}
}

// startProfile starts the CPU profile (-cpuprofile, in-process) or perf (-perf, subprocess) and returns what
// stops it.
func startProfile(o options, pid int) func() error {
	switch {
	case o.cpuProfile != "":
		stop, err := benchkit.StartCPUProfile(o.cpuProfile)
		if err != nil {
			return func() error { return err }
		}
		return stop
	case o.perfOut != "":
		cmd := exec.Command("perf", "record", "-g", "-F", "499", "-p", strconv.Itoa(pid), "-o", o.perfOut)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return func() error { return fmt.Errorf("start perf: %w", err) }
		}
		return func() error {
			_ = cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
				return nil // perf exits non-zero on SIGINT; its file is what counts
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				return errors.New("perf did not stop")
			}
		}
	default:
		return func() error { return nil }
	}
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// setUpSubprocess adds the tenant and imports the passes with the passpush CLI, then starts `passpush serve`.
// The CLI runs before the service starts, so it does not compete with it for the database (SQLite has one
// writer).
func setUpSubprocess(ctx context.Context, o options, dir, adminToken, tenantID, webhookURL, passesFile string) (runningService, error) {
	cli := passpushCLI{binary: o.binary, dir: dir, databaseURL: o.databaseURL, secretKey: secretbox.GenerateKeyText()}
	benchkit.Logf("adding tenant %s (webhook %s, %s per call)", tenantID, webhookURL, o.receiverDelay)
	if _, err := cli.run(ctx, "tenant", "add", tenantID, "--sfmc-signing-secret", sfmcSecret,
		"--webhook-url", webhookURL, "--webhook-secret", webhookSecret); err != nil {
		return nil, err
	}
	importStart := time.Now()
	out, err := cli.run(ctx, "pass", "import", "--tenant", tenantID, passesFile)
	if err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`(\d+) created`).FindStringSubmatch(out); m == nil || m[1] != strconv.Itoa(o.passes) {
		return nil, fmt.Errorf("pass import did not create %d passes: %s", o.passes, out)
	}
	benchkit.Logf("imported %d passes in %s", o.passes, time.Since(importStart).Round(time.Millisecond))
	if o.backend() == "PostgreSQL" {
		if err := analyzeAfterImport(ctx, o.databaseURL); err != nil {
			return nil, err
		}
	}
	if o.instances == 1 {
		return startSubprocess(ctx, cli, adminToken, "serve.log")
	}
	var c cluster
	for i := range o.instances {
		s, err := startSubprocess(ctx, cli, adminToken, fmt.Sprintf("serve-%d.log", i+1))
		if err != nil {
			_ = c.stop()
			return nil, err
		}
		c = append(c, s)
	}
	return c, nil
}
