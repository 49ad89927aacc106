package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

const (
	newPoints = "200"
	message   = "Double points this weekend"
)

// parallel runs f(i) for i in [0, n) on workers goroutines, and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// buildResult is a phase of builds.
type buildResult struct {
	builds  int
	elapsed time.Duration
}

func (r buildResult) rate() float64 { return float64(r.builds) / r.elapsed.Seconds() }

// buildAll builds and signs every pass once, from an empty cache, and keeps each pass's authenticationToken.
func (b *bench) buildAll(ctx context.Context) (buildResult, error) {
	start := time.Now()
	err := parallel(ctx, len(b.passIDs), b.o.signConcurrency, func(i int) error {
		file, err := b.svc.Svc.App.Queries.ApplePass.Handle(ctx, query.ApplePass{TenantID: tenantID, PassID: b.passIDs[i]})
		if err != nil {
			return err
		}
		p, err := readPassJSON(file.PKPass)
		if err != nil {
			return fmt.Errorf("pass %s: %w", b.passIDs[i], err)
		}
		b.tokens[i] = p.AuthenticationToken
		return nil
	})
	return buildResult{builds: len(b.passIDs), elapsed: time.Since(start)}, err
}

// buildCached builds the first passes (as many as the cache holds at most) once to fill the cache, then measures
// -cached builds of them, which the cache answers.
func (b *bench) buildCached(ctx context.Context) (buildResult, error) {
	subset := b.passIDs[:min(len(b.passIDs), 2000, query.ApplePassCacheSize)]
	build := func(i int) error {
		_, err := b.svc.Svc.App.Queries.ApplePass.Handle(ctx, query.ApplePass{TenantID: tenantID, PassID: subset[i%len(subset)]})
		return err
	}
	if err := parallel(ctx, len(subset), b.o.signConcurrency, build); err != nil {
		return buildResult{}, err
	}
	start := time.Now()
	err := parallel(ctx, b.o.cached, b.o.signConcurrency, build)
	return buildResult{builds: b.o.cached, elapsed: time.Since(start)}, err
}

// webService calls the PassKit web service as Wallet does.
func (b *bench) webService(ctx context.Context, method, path, token, body string, header ...string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.svc.URL+"/api/"+tenantID+"/apple/v1"+path, r)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "ApplePass "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	return res.StatusCode, got, err
}

// registerDevices registers one device per pass, and waits for the registrations read model to list them all.
func (b *bench) registerDevices(ctx context.Context) error {
	err := parallel(ctx, len(b.passIDs), b.o.concurrency, func(i int) error {
		path := "/devices/" + deviceID(i) + "/registrations/" + appletest.PassTypeID + "/" + b.passIDs[i]
		status, body, err := b.webService(ctx, http.MethodPost, path, b.tokens[i], `{"pushToken":"`+pushToken(i)+`"}`)
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("register %s: %d %s", deviceID(i), status, body)
		}
		return err
	})
	if err != nil {
		return err
	}
	return benchkit.WaitFor(ctx, 2*time.Minute, "the registrations read model to list every device", func() (bool, error) {
		n, err := b.svc.Count(ctx, `SELECT COUNT(*) FROM apple_registrations WHERE tenant_id = $1 AND active`, tenantID)
		return n == len(b.passIDs), err
	})
}

// pushResult is the journey's phase.
type pushResult struct {
	executes        int
	executeElapsed  time.Duration
	pushed          int // distinct tokens pushed
	pushes          int // pushes the fake took
	refused         int
	lastPush        time.Duration // since the first execute
	emitted, failed int
}

func (r pushResult) rate() float64 { return float64(r.pushed) / r.lastPush.Seconds() }

// journey updates every pass through one signed execute call each, as one journey, and waits for the fake APNs to
// have taken a push for every device.
func (b *bench) journey(ctx context.Context) (pushResult, error) {
	b.apns.Reset()
	var r pushResult
	start := time.Now()
	err := parallel(ctx, len(b.passIDs), b.o.concurrency, func(i int) error {
		token, err := benchkit.ExecuteToken(sfmcSecret, fmt.Sprintf("entry-%05d", i), fmt.Sprintf("contact-%05d", i),
			map[string]any{"passId": b.passIDs[i]}, map[string]any{"points": newPoints}, map[string]any{"offer": "2× points"},
			map[string]any{"message": message})
		if err != nil {
			return err
		}
		status, body, err := benchkit.PostExecute(ctx, b.client, b.svc.URL, tenantID, token)
		if err != nil {
			return err
		}
		if status != http.StatusOK || !bytes.Contains(body, []byte(`"scheduled"`)) {
			return fmt.Errorf("execute %d: %d %s", i, status, body)
		}
		return nil
	})
	r.executes, r.executeElapsed = len(b.passIDs), time.Since(start)
	if err != nil {
		return r, err
	}
	// Every device pushed, and no push for a while after: the last push is the last one.
	seen := 0
	stalled := time.Now()
	err = benchkit.WaitFor(ctx, 5*time.Minute, "a push for every device", func() (bool, error) {
		n := b.distinctPushed()
		if n > seen {
			seen, stalled = n, time.Now()
		} else if time.Since(stalled) > time.Minute {
			return false, fmt.Errorf("no new push for a minute: %d of %d devices pushed", n, len(b.passIDs))
		}
		return n >= len(b.passIDs), nil
	})
	if err != nil {
		return r, err
	}
	pushes := b.apns.Pushes()
	last := start
	for _, p := range pushes {
		if p.At.After(last) {
			last = p.At
		}
	}
	r.pushes, r.pushed, r.refused, r.lastPush = len(pushes), b.distinctPushed(), len(b.apns.Refused()), last.Sub(start)
	err = benchkit.WaitFor(ctx, 2*time.Minute, "an outcome for every update", func() (bool, error) {
		var err error
		r.emitted, err = b.svc.Count(ctx, `SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND event_type = 'PushUpdateEmitted'`, tenantID)
		if err != nil {
			return false, err
		}
		r.failed, err = b.svc.Count(ctx, `SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND event_type = 'PushUpdateFailed'`, tenantID)
		return r.emitted+r.failed >= len(b.passIDs), err
	})
	return r, err
}

func (b *bench) distinctPushed() int { return b.apns.DistinctTokens() }

// fetchResult is the devices' phase: each request's latency.
type fetchResult struct {
	serials, passes []time.Duration
	wrong           int // answers that were not 200 with the updated pass
	samples         []string
}

func (r fetchResult) all() []time.Duration { return slices.Concat(r.serials, r.passes) }

// fetchAll has -devices devices, woken by the push, list their serials and fetch their pass, all at once.
func (b *bench) fetchAll(ctx context.Context) (fetchResult, error) {
	var r fetchResult
	var mu sync.Mutex
	wrong := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		r.wrong++
		if len(r.samples) < 3 {
			r.samples = append(r.samples, fmt.Sprintf(format, args...))
		}
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	var transportErr atomic.Pointer[error]
	for i := range b.o.devices {
		wg.Go(func() {
			<-gate
			t0 := time.Now()
			status, body, err := b.webService(ctx, http.MethodGet, "/devices/"+deviceID(i)+"/registrations/"+appletest.PassTypeID, "", "")
			t1 := time.Now()
			if err != nil {
				transportErr.Store(&err)
				return
			}
			if status != http.StatusOK || !bytes.Contains(body, []byte(`"`+b.passIDs[i]+`"`)) {
				wrong("serials of %s: %d %s", deviceID(i), status, body)
			}
			status, body, err = b.webService(ctx, http.MethodGet, "/passes/"+appletest.PassTypeID+"/"+b.passIDs[i], b.tokens[i], "")
			t2 := time.Now()
			if err != nil {
				transportErr.Store(&err)
				return
			}
			mu.Lock()
			r.serials, r.passes = append(r.serials, t1.Sub(t0)), append(r.passes, t2.Sub(t1))
			mu.Unlock()
			if status != http.StatusOK {
				wrong("pass %s: %d %s", b.passIDs[i], status, body)
				return
			}
			if p, err := readPassJSON(body); err != nil || p.points() != newPoints {
				wrong("pass %s: points %q, %v", b.passIDs[i], p.points(), err)
			}
		})
	}
	close(gate)
	wg.Wait()
	if err := transportErr.Load(); err != nil {
		return r, *err
	}
	return r, nil
}

type passJSON struct {
	AuthenticationToken string `json:"authenticationToken"`
	StoreCard           struct {
		PrimaryFields []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"primaryFields"`
	} `json:"storeCard"`
}

func (p passJSON) points() string {
	for _, f := range p.StoreCard.PrimaryFields {
		if f.Key == "points" {
			return fmt.Sprint(f.Value)
		}
	}
	return ""
}

func readPassJSON(pkpass []byte) (passJSON, error) {
	var p passJSON
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		return p, err
	}
	f, err := zr.Open("pass.json")
	if err != nil {
		return p, err
	}
	defer f.Close()
	return p, json.NewDecoder(f).Decode(&p)
}
