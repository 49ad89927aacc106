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
	"path/filepath"
	"runtime"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
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
	fetchProfile    string
	signAhead       bool
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
	flag.StringVar(&o.fetchProfile, "fetch-cpuprofile", "", "write a CPU profile of the devices' fetches alone (step 3, both rounds) to this file; not with -cpuprofile")
	flag.BoolVar(&o.signAhead, "sign-ahead", false, "the Apple channel signs each pass before its push (PASSPUSH_APPLE_SIGN_AHEAD)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "deadline of the whole run")
	flag.Parse()
	benchkit.Main("bench/apple", o.validate(), o.timeout, func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	var errs []error
	if err := benchkit.CheckDatabaseURL(o.databaseURL); err != nil {
		errs = append(errs, err)
	}
	if o.passes < 1 || o.cached < 1 || o.devices < 1 || o.devices > o.passes {
		errs = append(errs, errors.New("-passes, -cached and -devices must be at least 1, and -devices at most -passes"))
	}
	if o.signConcurrency < 1 || o.concurrency < 1 {
		errs = append(errs, errors.New("-sign-concurrency and -concurrency must be at least 1"))
	}
	if o.cpuProfile != "" && o.fetchProfile != "" {
		errs = append(errs, errors.New("-cpuprofile and -fetch-cpuprofile profile overlapping phases: give one"))
	}
	if _, err := os.Stat(filepath.Join(o.template, "pass.json")); err != nil {
		errs = append(errs, fmt.Errorf("-template: %w (run from the repository's root)", err))
	}
	return errors.Join(errs...)
}

func (o options) backend() string { return benchkit.Backend(o.databaseURL) }

func run(ctx context.Context, o options) error {
	dir, databaseURL, err := benchkit.WorkDir("apple", o.databaseURL)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.databaseURL = databaseURL
	busy := benchkit.MachineBusy(time.Second)
	b, err := setUp(ctx, o, dir)
	if err != nil {
		return err
	}
	defer b.close()

	s := summary{o: o, busyBefore: busy}
	benchkit.Logf("building and signing %d passes cold", o.passes)
	if s.cold, err = b.buildAll(ctx); err != nil {
		return fmt.Errorf("cold builds: %w", err)
	}
	benchkit.Logf("%d builds from the cache", o.cached)
	if s.cached, err = b.buildCached(ctx); err != nil {
		return fmt.Errorf("cached builds: %w", err)
	}
	benchkit.Logf("registering %d devices", o.passes)
	if err := b.registerDevices(ctx); err != nil {
		return fmt.Errorf("register devices: %w", err)
	}
	stopProfile, err := benchkit.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	benchkit.Logf("one journey updates %d passes", o.passes)
	meter := b.startCPU(ctx)
	s.push, err = b.journey(ctx)
	s.pushCPU = meter.stop(ctx)
	if err != nil {
		_ = stopProfile()
		return fmt.Errorf("journey: %w; last lines of the service log:\n%s", err, benchkit.Tail(b.svc.LogPath, 5))
	}
	benchkit.Logf("2 s with no calls, for the CPU the service costs idle")
	s.idleCPU = b.idleCPU(ctx, 2*time.Second)
	stopFetchProfile, err := benchkit.StartCPUProfile(o.fetchProfile)
	if err != nil {
		_ = stopProfile()
		return err
	}
	defer func() { _ = stopFetchProfile() }()
	benchkit.Logf("%d devices fetch their serials and pass at once", o.devices)
	meter = b.startCPU(ctx)
	s.fetch, err = b.fetchAll(ctx)
	s.fetchCPU = meter.stop(ctx)
	if err != nil {
		_ = stopProfile()
		return fmt.Errorf("device fetches: %w", err)
	}
	benchkit.Logf("the same %d devices fetch again, their passes now signed", o.devices)
	meter = b.startCPU(ctx)
	s.refetch, err = b.fetchAll(ctx)
	s.refetchCPU = meter.stop(ctx)
	_ = stopProfile()
	if err != nil {
		return fmt.Errorf("device fetches again: %w", err)
	}
	s.hwm, s.memErr = benchkit.PeakRSS()
	s.logLines, s.logPath = benchkit.CountLines(b.svc.LogPath), b.svc.LogPath
	if missed := s.print(os.Stdout); missed > 0 {
		return benchkit.Missed{N: missed}
	}
	return nil
}
