package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// appendClaims appends the claims of one contact entry reaching the activity, as Journey Builder sends them.
// Every value is plain ASCII without quotes or backslashes, so no escaping is needed.
func appendClaims(b []byte, runID string, i int64, passID string) []byte {
	b = append(b, `{"inArguments":[{"passId":"`...)
	b = append(b, passID...)
	b = append(b, `"},{"points":"`...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `"}],"outArguments":[],"activityObjectID":"bench-activity-object","journeyId":"bench-journey-`...)
	b = append(b, runID...)
	b = append(b, `","activityId":"bench-activity","definitionInstanceId":"`...)
	b = append(b, runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `","activityInstanceId":"bench-activity-instance","keyValue":"contact-`...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, `","mode":0}`...)
	return b
}

type loadResult struct {
	start, end      time.Time
	sent            int
	ok              int
	scheduled       int
	statuses        map[int]int
	transportErrors int
	samples         []string
	latencies       []time.Duration // every call that got a response, sorted
	okLatencies     []time.Duration
	okAt            map[int64]time.Time // call index → when its 200 arrived
	// perSecond holds the latencies of the 200s by the second since start they arrived in, each sorted, so the
	// timeline shows whether the tail is spread over the run or bunched at its start.
	perSecond [][]time.Duration
	// firstSecond holds the latencies of the 200s of the first second by the tenth of a second they arrived in,
	// each sorted: a start-up cost (connections, statements, caches) shows at its beginning.
	firstSecond [10][]time.Duration
}

func (r loadResult) elapsed() time.Duration { return r.end.Sub(r.start) }
func (r loadResult) throughput() float64    { return float64(r.ok) / r.elapsed().Seconds() }
func (r loadResult) failed() int            { return r.sent - r.ok }

type worker struct {
	sent, ok, scheduled, transportErrors int
	statuses                             map[int]int
	samples                              []string
	latencies, okLatencies               []time.Duration
	okAt                                 [][2]int64 // call index, UnixNano of the 200
	perSecond                            [][]time.Duration
	firstSecond                          [10][]time.Duration
}

// driveExecute sends execute calls from o.concurrency workers, each call a new contact entry (a distinct
// definitionInstanceId) for the next pass round-robin, until o.calls are sent or o.duration has passed. With
// several instances (-instances), call i goes to instance i mod n, as a load balancer's round robin would.
func driveExecute(ctx context.Context, o options, baseURLs []string, tenantID, secret, runID string, passIDs []string, tl *timeline, onStart func()) loadResult {
	urls := make([]string, len(baseURLs))
	for i, baseURL := range baseURLs {
		urls[i] = baseURL + "/api/" + tenantID + benchkit.ExecutePath
		if o.split {
			urls[i] = baseURL + "/api/" + tenantID + benchkit.PassCheckExecutePath
		}
	}
	transport := &http.Transport{
		MaxIdleConns:        o.concurrency * len(urls),
		MaxIdleConnsPerHost: o.concurrency,
		MaxConnsPerHost:     o.concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	// Journey Builder's execute timeout is 60 s by default.
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}

	perWorker := o.calls/o.concurrency + 1
	if o.duration > 0 {
		perWorker = 1024
	}
	workers := make([]*worker, o.concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	var stopAt time.Time
	if o.burst > 0 && o.split {
		coldBurst(ctx, o, client, urls[0], secret, runID, passIDs)
	}
	start := time.Now()
	if o.duration > 0 {
		stopAt = start.Add(o.duration)
	}
	tl.begin(start)
	onStart()
	for w := range workers {
		wk := &worker{
			statuses:    map[int]int{},
			latencies:   make([]time.Duration, 0, perWorker),
			okLatencies: make([]time.Duration, 0, perWorker),
			okAt:        make([][2]int64, 0, perWorker),
		}
		workers[w] = wk
		wg.Go(func() {
			s := benchkit.NewSigner(secret)
			claims := make([]byte, 0, 512)
			var resp struct {
				Status string `json:"status"`
				Passes int    `json:"passes"`
				// The split's answer (-split).
				BranchResult string `json:"branchResult"`
			}
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if o.duration > 0 {
					if !time.Now().Before(stopAt) {
						return
					}
				} else if i >= int64(o.calls) {
					return
				}
				var due time.Time
				if o.rate > 0 {
					// Open loop: call i is due at i/rate, whether or not earlier calls have come back.
					due = start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				claims = appendClaims(claims[:0], runID, i, passIDs[i%int64(len(passIDs))])
				token := s.Sign(claims)
				t0 := time.Now()
				if !due.IsZero() {
					// Latency counts from when the call was due, so a backlog behind slow calls shows in it.
					t0 = due
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, urls[i%int64(len(urls))], bytes.NewReader(token))
				if err != nil {
					panic(err) // the URL is ours
				}
				req.Header.Set("Content-Type", "application/jwt")
				wk.sent++
				res, err := client.Do(req)
				if err != nil {
					wk.transportErrors++
					if len(wk.samples) < 3 {
						wk.samples = append(wk.samples, err.Error())
					}
					time.Sleep(10 * time.Millisecond) // a dead service must not turn this into a busy loop
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
				_ = res.Body.Close()
				done := time.Now()
				lat := done.Sub(t0)
				wk.latencies = append(wk.latencies, lat)
				resp.Status, resp.Passes, resp.BranchResult = "", 0, ""
				if res.StatusCode == http.StatusOK && json.Unmarshal(body, &resp) == nil && (resp.Status == "scheduled" || o.split && resp.BranchResult != "") {
					wk.ok++
					wk.scheduled += resp.Passes
					wk.okLatencies = append(wk.okLatencies, lat)
					wk.okAt = append(wk.okAt, [2]int64{i, done.UnixNano()})
					sec := int(done.Sub(start) / time.Second)
					for len(wk.perSecond) <= sec {
						wk.perSecond = append(wk.perSecond, nil)
					}
					wk.perSecond[sec] = append(wk.perSecond[sec], lat)
					if tenth := int(done.Sub(start) / (100 * time.Millisecond)); tenth < len(wk.firstSecond) {
						wk.firstSecond[tenth] = append(wk.firstSecond[tenth], lat)
					}
					tl.executed(done)
					continue
				}
				wk.statuses[res.StatusCode]++
				if len(wk.samples) < 3 {
					wk.samples = append(wk.samples, fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(body)))
				}
			}
		})
	}
	wg.Wait()
	r := loadResult{start: start, end: time.Now(), statuses: map[int]int{}, okAt: map[int64]time.Time{}}
	for _, wk := range workers {
		r.sent += wk.sent
		r.ok += wk.ok
		r.scheduled += wk.scheduled
		r.transportErrors += wk.transportErrors
		for code, n := range wk.statuses {
			r.statuses[code] += n
		}
		if len(r.samples) < 5 {
			r.samples = append(r.samples, wk.samples...)
		}
		r.latencies = append(r.latencies, wk.latencies...)
		r.okLatencies = append(r.okLatencies, wk.okLatencies...)
		for _, at := range wk.okAt {
			r.okAt[at[0]] = time.Unix(0, at[1])
		}
		for sec, lats := range wk.perSecond {
			for len(r.perSecond) <= sec {
				r.perSecond = append(r.perSecond, nil)
			}
			r.perSecond[sec] = append(r.perSecond[sec], lats...)
		}
		for tenth, lats := range wk.firstSecond {
			r.firstSecond[tenth] = append(r.firstSecond[tenth], lats...)
		}
	}
	for _, lats := range r.perSecond {
		slices.Sort(lats)
	}
	for _, lats := range r.firstSecond {
		slices.Sort(lats)
	}
	slices.Sort(r.latencies)
	slices.Sort(r.okLatencies)
	return r
}

// coldBurst sends o.burst calls at o.concurrency to the service just started, as a journey's start meets an
// instance after a restart, and logs how long they took and the slowest; the measured run starts after a pause.
// Its decisions are recorded like any other (a journey id of their own).
func coldBurst(ctx context.Context, o options, client *http.Client, url, secret, runID string, passIDs []string) {
	var wg sync.WaitGroup
	var worst atomic.Int64
	var failed atomic.Int64
	t0 := time.Now()
	for w := range o.concurrency {
		wg.Go(func() {
			s := benchkit.NewSigner(secret)
			for i := w; i < o.burst; i += o.concurrency {
				claims := appendClaims(nil, runID+"-burst", int64(i), passIDs[i%len(passIDs)])
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(s.Sign(claims)))
				if err != nil {
					panic(err) // the URL is ours
				}
				req.Header.Set("Content-Type", "application/jwt")
				t1 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				for d, w := int64(time.Since(t1)), worst.Load(); d > w && !worst.CompareAndSwap(w, d); w = worst.Load() {
				}
			}
		})
	}
	wg.Wait()
	benchkit.Logf("cold burst: %d calls at concurrency %d in %s, slowest %s, %d not 200", o.burst, o.concurrency,
		time.Since(t0).Round(time.Millisecond), time.Duration(worst.Load()).Round(100*time.Microsecond), failed.Load())
	time.Sleep(300 * time.Millisecond)
}
