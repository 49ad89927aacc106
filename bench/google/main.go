// Command google is the benchmark of the Google Wallet channel (issue 12, "6. Benchmark").
//
// It runs passpush in this process (service.New, the delivery stage and the HTTP server on loopback) on one
// database, with the Wallet API played by the test fake (adapters/google/googletest) answering in -latency, behind
// a quota gate that counts each issuer's calls in a sliding second and answers 429 past -quota. A webhook receiver
// in this process takes -receiver-delay per call. -rounds rounds of two phases, each of -updates updates over
// -tenants new tenants, one update per pass, sent as signed execute calls like Journey Builder's:
//
//  1. webhook + Apple: the tenants have a webhook, Apple passes (the test PKI's certificate and a template) and
//     one device registered per pass, pushed through a fake APNs answering in -apns-delay, and no Google settings
//     (the baseline; -apple=false leaves Apple out of both phases);
//  2. webhook + Apple + Google: the same, plus Google settings at -rate calls/s and a class, and every pass saved
//     in the fake: each update is also a PATCH and an addMessage.
//
// It reports each tenant's achieved rate of Google calls, the 429s, the webhook deliveries' and the Apple pushes'
// throughput and latency in each phase, and the process's CPU time (and on PostgreSQL the database's work) per update, then PASS/MISS per
// target. A phase's webhook deliveries take a few seconds, so one busy moment of the machine moves its throughput:
// the throughput targets are the median over the rounds of the ratio with Google to without, each round's two
// phases run one after the other under the same load.
//
//	go run ./bench/google                                              # SQLite file in a temp dir
//	psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_google1'
//	go run ./bench/google -database-url 'postgres://postgres@127.0.0.1:5432/bench_google1?sslmode=disable'
//
// Exit status: 0 when every target is met, 2 when the run completed but a target was missed, 1 on error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/service"
)

type options struct {
	databaseURL    string
	tenants        int
	updates        int
	rate           float64
	quota          int
	latency        time.Duration
	receiverDelay  time.Duration
	concurrency    int
	message        bool
	rateTolerance  float64
	attemptTimeout time.Duration
	timeout        time.Duration
	rounds         int
	cpuProfile     string
	apple          bool
	apnsDelay      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.databaseURL, "database-url", "", "fresh database: postgres://… or sqlite:PATH; empty means a new SQLite file in a temp dir")
	flag.IntVar(&o.tenants, "tenants", 5, "tenants per phase")
	flag.IntVar(&o.updates, "updates", 2000, "updates per phase, spread evenly over the tenants, one per pass")
	flag.Float64Var(&o.rate, "rate", 20, "each tenant's Google rate, requests/s (the settings' rate; 20 is the default)")
	flag.IntVar(&o.quota, "quota", 0, "the fake answers 429 once an issuer made this many calls in the last second; 0 means rate + 5")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "time the fake Wallet API takes per call")
	flag.DurationVar(&o.receiverDelay, "receiver-delay", 50*time.Millisecond, "time the webhook receiver takes per call")
	flag.IntVar(&o.concurrency, "concurrency", 32, "execute calls in flight")
	flag.BoolVar(&o.message, "message", true, "updates carry a message: each is a PATCH and an addMessage")
	flag.Float64Var(&o.rateTolerance, "rate-tolerance", 0.05, "how far a tenant's achieved Google rate may be from -rate")
	flag.DurationVar(&o.attemptTimeout, "attempt-timeout", 0, "the delivery stage's attempt timeout; 0 means its default (10 s)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "deadline of the whole run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of a phase without Google and one with it; the throughput targets take the median ratio")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the phases (not the start) to this file")
	flag.BoolVar(&o.apple, "apple", true, "every phase's tenants also have Apple passes, each with a registered device: each update is a push to the fake APNs")
	flag.DurationVar(&o.apnsDelay, "apns-delay", 20*time.Millisecond, "time the fake APNs takes per push")
	flag.Parse()
	benchkit.Main("bench/google", o.validate(), o.timeout, func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	var errs []error
	if err := benchkit.CheckDatabaseURL(o.databaseURL); err != nil {
		errs = append(errs, err)
	}
	if o.tenants < 1 || o.updates < o.tenants {
		errs = append(errs, errors.New("-tenants must be at least 1 and -updates at least -tenants"))
	}
	if o.rate <= 0 || o.rate > 1000 {
		errs = append(errs, errors.New("-rate must be in (0, 1000]"))
	}
	if o.rounds < 1 {
		errs = append(errs, errors.New("-rounds must be at least 1"))
	}
	if o.concurrency < 1 {
		errs = append(errs, errors.New("-concurrency must be at least 1"))
	}
	if o.quota == 0 {
		o.quota = int(o.rate) + quotaHeadroom
	}
	return errors.Join(errs...)
}

func (o options) backend() string { return benchkit.Backend(o.databaseURL) }

func run(ctx context.Context, o options) error {
	dir, databaseURL, err := benchkit.WorkDir("google", o.databaseURL)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.databaseURL = databaseURL
	env := newFakeEnv()
	defer env.close()
	wallet := env.fake()
	wallet.SetLatency(o.latency)
	gate := newQuotaGate(wallet, o.quota)
	defer gate.close()
	rcv := newReceiver(o.receiverDelay)
	defer rcv.close()
	var appleWallet *appleEnv
	if o.apple {
		if appleWallet, err = newAppleEnv(dir, o.apnsDelay); err != nil {
			return err
		}
		defer appleWallet.close()
	}

	busy := benchkit.MachineBusy(time.Second)
	svc, err := benchkit.StartService(ctx, benchkit.ServiceOptions{
		DatabaseURL: o.databaseURL, Dir: dir, AdminToken: adminToken, RequireFresh: true,
		Config: func(string) service.Config {
			// The receiver is a local http server, which only the development webhook policy lets passpush call.
			config := service.Config{GoogleAPIURL: gate.url, PublicURL: publicURL, Webhook: webhooktest.LocalConfig()}
			config.Delivery.AttemptTimeout = o.attemptTimeout
			if appleWallet != nil {
				config.APNs.URL, config.APNs.RootCAs = appleWallet.apns.URL, appleWallet.apns.RootCAs
			}
			return config
		},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			benchkit.Logf("stop: %v", err)
		}
	}()

	stopProfile, err := benchkit.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	s := summary{o: o, busyBefore: busy}
	for round := 1; round <= o.rounds; round++ {
		baseline, err := runPhase(ctx, o, svc, rcv, appleWallet, nil, nil, round)
		if err != nil {
			_ = stopProfile()
			return fmt.Errorf("webhook-only phase of round %d: %w", round, err)
		}
		google, err := runPhase(ctx, o, svc, rcv, appleWallet, env, gate, round)
		if err != nil {
			_ = stopProfile()
			return fmt.Errorf("webhook + Google phase of round %d: %w", round, err)
		}
		s.baseline, s.google = append(s.baseline, baseline), append(s.google, google)
	}
	if err := stopProfile(); err != nil {
		return err
	}
	s.abandoned, s.logLines, s.logPath = gate.abandonedCalls(), benchkit.CountLines(svc.LogPath), svc.LogPath
	if missed := s.print(os.Stdout); missed > 0 {
		return benchkit.Missed{N: missed}
	}
	return nil
}
