// Command apple is the benchmark of Apple Wallet passes (issue 11, "7. Benchmarks").
//
// It runs passpush in this process (service.New, the delivery stage and the HTTP server on loopback) on one
// database, with APNs played by the test fake (adapters/apple/appletest) taking -apns-delay per push, and a test
// PKI's Pass Type ID certificate. Tenant acme has the example template (examples/apple-template) and -passes
// passes. Then:
//
//  1. building and signing passes cold: each pass built once through the ApplePass query (distinct passes, empty
//     cache; the first build of a pass also makes its authenticationToken), then from the cache: -cached builds
//     over the first 2,000 passes, which were signed once before; passes/s at -sign-concurrency;
//  2. one device per pass registers through the PassKit web service (not measured), then one journey updates
//     every pass through signed execute calls over HTTP at -concurrency: pushes/s end to end, from the first
//     execute to the last push the fake APNs took;
//  3. then -devices devices list their serials and fetch their pass at once, over HTTP: the latency's p99 (each
//     pass is signed on its first fetch after the update); for comparison, the same again from the cache;
//  4. the process's peak RSS (VmHWM; it includes the load generator and the fake APNs).
//
// It prints a summary and PASS/MISS per target.
//
//	go run ./bench/apple                                              # SQLite file in a temp dir
//	psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_apple1'
//	go run ./bench/apple -database-url 'postgres://postgres@127.0.0.1:5432/bench_apple1?sslmode=disable'
//
// Exit status: 0 when every target is met, 2 when the run completed but a target was missed, 1 on error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// The targets.
const (
	targetColdRate   = 800
	targetCachedRate = 10000
	targetPushRate   = 2000
	targetFetchP99   = 50 * time.Millisecond
	targetRSS        = 200 << 20
)

type options struct {
	databaseURL     string
	passes          int
	cached          int
	signConcurrency int
	concurrency     int
	apnsDelay       time.Duration
	devices         int
	template        string
	cpuProfile      string
	timeout         time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.databaseURL, "database-url", "", "fresh database: postgres://… or sqlite:PATH; empty means a new SQLite file in a temp dir")
	flag.IntVar(&o.passes, "passes", 10000, "passes, each with one registered device, updated once by the journey")
	flag.IntVar(&o.cached, "cached", 50000, "builds from the cache to measure")
	flag.IntVar(&o.signConcurrency, "sign-concurrency", 2*runtime.GOMAXPROCS(0), "builds in flight")
	flag.IntVar(&o.concurrency, "concurrency", 64, "execute calls (and device registrations) in flight")
	flag.DurationVar(&o.apnsDelay, "apns-delay", 20*time.Millisecond, "time the fake APNs takes per push")
	flag.IntVar(&o.devices, "devices", 500, "devices that list their serials and fetch their pass at once after the update")
	flag.StringVar(&o.template, "template", "examples/apple-template", "the Apple template folder (its passTypeIdentifier is replaced by the test PKI's)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the journey and the devices' fetches (steps 2 and 3) to this file")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "deadline of the whole run")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apple:", err)
		flag.Usage()
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	code := 0
	if err := run(ctx, o); err != nil {
		var miss errMissed
		if errors.As(err, &miss) {
			code = 2
		} else {
			fmt.Fprintln(os.Stderr, "bench/apple:", err)
			code = 1
		}
	}
	cancel()
	stop()
	os.Exit(code)
}

func (o *options) validate() error {
	var errs []error
	switch {
	case o.databaseURL == "":
	case strings.HasPrefix(o.databaseURL, "postgres://"), strings.HasPrefix(o.databaseURL, "postgresql://"):
	case strings.HasPrefix(o.databaseURL, "sqlite:") && strings.TrimPrefix(o.databaseURL, "sqlite:") != "":
	default:
		errs = append(errs, errors.New("-database-url must be postgres://… or sqlite:PATH"))
	}
	if o.passes < 1 || o.cached < 1 || o.devices < 1 || o.devices > o.passes {
		errs = append(errs, errors.New("-passes, -cached and -devices must be at least 1, and -devices at most -passes"))
	}
	if o.signConcurrency < 1 || o.concurrency < 1 {
		errs = append(errs, errors.New("-sign-concurrency and -concurrency must be at least 1"))
	}
	if _, err := os.Stat(filepath.Join(o.template, "pass.json")); err != nil {
		errs = append(errs, fmt.Errorf("-template: %w (run from the repository's root)", err))
	}
	return errors.Join(errs...)
}

func (o options) backend() string {
	if strings.HasPrefix(o.databaseURL, "sqlite:") {
		return "SQLite"
	}
	return "PostgreSQL"
}

// errMissed reports a completed run that missed a target.
type errMissed struct{ n int }

func (e errMissed) Error() string { return fmt.Sprintf("%d target(s) missed", e.n) }

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "passpush-bench-apple-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.databaseURL == "" {
		o.databaseURL = "sqlite:" + filepath.Join(dir, "passpush.db")
	}
	busy := machineBusy(time.Second)
	b, err := setUp(ctx, o, dir)
	if err != nil {
		return err
	}
	defer b.close()

	s := summary{o: o, busyBefore: busy}
	logf("building and signing %d passes cold", o.passes)
	if s.cold, err = b.buildAll(ctx); err != nil {
		return fmt.Errorf("cold builds: %w", err)
	}
	logf("%d builds from the cache", o.cached)
	if s.cached, err = b.buildCached(ctx); err != nil {
		return fmt.Errorf("cached builds: %w", err)
	}
	logf("registering %d devices", o.passes)
	if err := b.registerDevices(ctx); err != nil {
		return fmt.Errorf("register devices: %w", err)
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	logf("one journey updates %d passes", o.passes)
	if s.push, err = b.journey(ctx); err != nil {
		stopProfile()
		return fmt.Errorf("journey: %w", err)
	}
	logf("%d devices fetch their serials and pass at once", o.devices)
	if s.fetch, err = b.fetchAll(ctx); err != nil {
		stopProfile()
		return fmt.Errorf("device fetches: %w", err)
	}
	logf("the same %d devices fetch again, their passes now signed", o.devices)
	s.refetch, err = b.fetchAll(ctx)
	stopProfile()
	if err != nil {
		return fmt.Errorf("device fetches again: %w", err)
	}
	s.hwm, s.memErr = peakRSS()
	s.logLines, s.logPath = countLines(b.svc.log), b.svc.log
	if missed := s.print(os.Stdout); missed > 0 {
		return errMissed{missed}
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned function is called; an empty path does
// nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
