// Command sfmc is the load benchmark of the Journey Builder push-update activity (issue 3, "6. Benchmark").
//
// In one run, on one database, it:
//
//  1. measures the raw watermill-sql publish rate (16 goroutines, one message per Publish, a scratch topic) on that
//     database: the ceiling;
//  2. adds a tenant whose webhook is a receiver in this process that takes 50 ms per call, checks every signature
//     and counts deliveries per eventId, imports the passes, and starts `passpush serve` on the database (or, with
//     -inprocess, the same service in this process, so it can be CPU-profiled);
//  3. signs execute calls like Journey Builder (HS256 JWT, one contact entry per call, passes round-robin) and sends
//     them at concurrency 64, measuring throughput and latency;
//  4. waits until every scheduled update reached the webhook and has its PushUpdateEmitted in the audit log, and
//     derives the end-to-end delivered updates/s;
//  5. reads the service's peak RSS (VmHWM);
//  6. prints a summary and PASS/MISS per target.
//
// For diagnosis it also follows every update through the pipeline (execute 200 → PassUpdateScheduled stored →
// webhook delivery → PushUpdateEmitted stored, from the audit API's occurredAt and the receiver's clock), prints
// those stages per second and their latency percentiles, and can sample pg_stat_activity (-pg-activity), record
// the serve process with perf (-perf) or CPU-profile the service run in process (-inprocess -cpuprofile).
// -rate paces the calls (open loop) to see the latency at a given load, e.g. Journey Builder's ~1,400/s.
//
// With -split it measures the "Wallet pass?" split's execute instead (issue 15): the same calls, to
// …/passcheck/execute, checked for 200 with a branchResult, against ≥ 3,000 calls/s and p99 ≤ 25 ms on PostgreSQL;
// nothing is delivered, so there is no raw publish and no drain.
//
//	go run ./bench/sfmc -split -database-url 'postgres://postgres@127.0.0.1:5432/bench1?sslmode=disable'
//
// Everything listens on and talks to loopback only, and every wait has a deadline.
//
//	psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench1'
//	go run ./bench/sfmc -database-url 'postgres://postgres@127.0.0.1:5432/bench1?sslmode=disable'
//	go run ./bench/sfmc -database-url sqlite:/tmp/bench1.db
//
// With -instances N (PostgreSQL) it starts N `passpush serve` on the database and spreads the execute calls over
// them round-robin, as a load balancer would: one against three instances on the same machine (issue 14, §5).
//
// Exit status: 0 when every target is met, 2 when the run completed but a target was missed, 1 on error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

type options struct {
	databaseURL   string
	binary        string
	passes        int
	calls         int
	duration      time.Duration
	concurrency   int
	rate          float64
	rawDuration   time.Duration
	rawWorkers    int
	receiverDelay time.Duration
	drainTimeout  time.Duration
	stallTimeout  time.Duration
	timeout       time.Duration
	inprocess     bool
	cpuProfile    string
	perfOut       string
	allowExisting bool
	skipRaw       bool
	timeline      bool
	pgActivity    time.Duration
	split         bool
	instances     int
	burst         int
}

func main() {
	var o options
	flag.StringVar(&o.databaseURL, "database-url", "", "fresh database: postgres://… or sqlite:PATH (required)")
	flag.StringVar(&o.binary, "binary", "", "passpush binary; empty builds one from this tree into a temp dir")
	flag.IntVar(&o.passes, "passes", 2000, "passes to register (pass import)")
	flag.IntVar(&o.calls, "calls", 20000, "execute calls to send (ignored when -duration is set)")
	flag.DurationVar(&o.duration, "duration", 0, "send execute calls for this long instead of -calls")
	flag.IntVar(&o.concurrency, "concurrency", 64, "execute calls in flight")
	flag.Float64Var(&o.rate, "rate", 0, "cap execute calls at this many per second (open loop, call i starts at i/rate; 0 means as fast as -concurrency allows)")
	flag.DurationVar(&o.rawDuration, "raw-duration", 10*time.Second, "how long the raw watermill-sql publish runs")
	flag.IntVar(&o.rawWorkers, "raw-goroutines", 16, "goroutines of the raw publish")
	flag.DurationVar(&o.receiverDelay, "receiver-delay", 50*time.Millisecond, "time the webhook receiver takes per call")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 3*time.Minute, "longest wait for every update to be delivered and emitted after the last execute")
	flag.DurationVar(&o.stallTimeout, "stall-timeout", 30*time.Second, "give up waiting when nothing is delivered or emitted for this long")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "deadline of the whole run")
	flag.BoolVar(&o.inprocess, "inprocess", false, "run the service in this process instead of `passpush serve` (for -cpuprofile; RSS then includes the load generator)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "with -inprocess: write a CPU profile of the execute and delivery phase to this file")
	flag.StringVar(&o.perfOut, "perf", "", "without -inprocess: record the serve process with `perf record -g` during the execute and delivery phase into this file")
	flag.BoolVar(&o.allowExisting, "allow-existing", false, "run on a database that already has tables (figures are then not comparable)")
	flag.BoolVar(&o.skipRaw, "skip-raw", false, "skip the raw publish measurement (its targets are then not checked)")
	flag.BoolVar(&o.timeline, "timeline", true, "print executes and deliveries per second")
	flag.DurationVar(&o.pgActivity, "pg-activity", 0, "PostgreSQL: sample pg_stat_activity at this interval during execute and delivery (diagnosis; costs the generator some CPU)")
	flag.BoolVar(&o.split, "split", false, "measure the \"Wallet pass?\" split's execute (passcheck) instead: calls/s and p99 only, no raw publish and no deliveries")
	flag.IntVar(&o.instances, "instances", 1, "PostgreSQL: start this many `passpush serve` on the database and spread the execute calls over them round-robin")
	flag.IntVar(&o.burst, "burst", 0, "with -split: before the measured calls, send this many at -concurrency to the service just started (a journey's start after a restart) and log the slowest")
	flag.Parse()
	if o.split {
		o.skipRaw = true
	}

	benchkit.Main("bench/sfmc", o.validate(), o.timeout, func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	var errs []error
	switch {
	case o.databaseURL == "":
		errs = append(errs, errors.New("-database-url is required"))
	case strings.HasPrefix(o.databaseURL, "postgres://"), strings.HasPrefix(o.databaseURL, "postgresql://"):
		if host := dbHost(o.databaseURL); !isLoopbackHost(host) {
			errs = append(errs, fmt.Errorf("-database-url must point at a loopback host, not %q", host))
		}
	case strings.HasPrefix(o.databaseURL, "sqlite:"):
		if strings.TrimPrefix(o.databaseURL, "sqlite:") == "" {
			errs = append(errs, errors.New("-database-url sqlite: needs a path"))
		}
	default:
		errs = append(errs, errors.New("-database-url must be postgres://… or sqlite:PATH"))
	}
	if o.passes < 1 {
		errs = append(errs, errors.New("-passes must be at least 1"))
	}
	if o.duration <= 0 && o.calls < 1 {
		errs = append(errs, errors.New("-calls must be at least 1"))
	}
	if o.rate < 0 {
		errs = append(errs, errors.New("-rate must not be negative"))
	}
	if o.concurrency < 1 || o.rawWorkers < 1 {
		errs = append(errs, errors.New("-concurrency and -raw-goroutines must be at least 1"))
	}
	if o.cpuProfile != "" && !o.inprocess {
		errs = append(errs, errors.New("-cpuprofile needs -inprocess (use -perf to profile the serve process)"))
	}
	if o.perfOut != "" && o.inprocess {
		errs = append(errs, errors.New("-perf profiles the serve process; with -inprocess use -cpuprofile"))
	}
	if o.instances < 1 || (o.instances > 1 && (o.inprocess || o.backend() != "PostgreSQL")) {
		errs = append(errs, errors.New("-instances must be at least 1, and above 1 needs PostgreSQL and subprocesses (not -inprocess)"))
	}
	if o.pgActivity > 0 && o.backend() != "PostgreSQL" {
		errs = append(errs, errors.New("-pg-activity needs PostgreSQL"))
	}
	if o.binary != "" {
		abs, err := filepath.Abs(o.binary)
		if err != nil {
			errs = append(errs, err)
		}
		o.binary = abs
	}
	return errors.Join(errs...)
}

func (o options) backend() string { return benchkit.Backend(o.databaseURL) }
