package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/google/googletest"
)

// quotaHeadroom is what the quota gate allows over the rate by default: in any sliding second a tenant may make
// its rate's calls plus this many. It is the gate's own figure, not google.MaxBurst, so that the benchmark does
// not loosen when the channel's burst changes.
const quotaHeadroom = 5

// fakeEnv is the little of testing.TB that googletest uses (Helper, Cleanup, Fatal), for a program: the fake
// is a test-support package whose constructors take a testing.TB. A failure there is a set-up error, so it
// panics; the cleanups run at close. The embedded TB is nil: a method the fake does not use would panic.
type fakeEnv struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func newFakeEnv() *fakeEnv { return &fakeEnv{} }

func (e *fakeEnv) Helper() {}

func (e *fakeEnv) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *fakeEnv) Fatal(args ...any) { panic("google fake: " + fmt.Sprint(args...)) }

func (e *fakeEnv) Fatalf(format string, args ...any) {
	panic("google fake: " + fmt.Sprintf(format, args...))
}

func (e *fakeEnv) fake() *googletest.Fake { return googletest.New(e) }

func (e *fakeEnv) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// quotaGate stands in front of the fake's walletobjects paths as Google's quota does: it counts each issuer's
// calls (the object id's part before its first dot) in a sliding second and answers 429 RESOURCE_EXHAUSTED past
// quota; the rest it hands to the fake. It records when each call arrived.
type quotaGate struct {
	url    string
	fake   *googletest.Fake
	quota  int
	server *httptest.Server
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	recent   map[string][]time.Time // the issuer's calls in the last second
	calls    map[string][]time.Time // every call let through, by issuer
	rejected map[string]int         // 429s, by issuer
	// abandoned counts the calls whose caller gave up before the fake answered (the attempt's timeout).
	abandoned int
}

// objectPath is walletobjects/v1/{type}Object/{issuer}.{rest}[/addMessage].
var objectPath = regexp.MustCompile(`^/walletobjects/v1/[a-zA-Z]+Object/([^./]+)\.`)

func newQuotaGate(fake *googletest.Fake, quota int) *quotaGate {
	target, err := url.Parse(fake.URL)
	if err != nil {
		panic(err)
	}
	g := &quotaGate{fake: fake, quota: quota, proxy: httputil.NewSingleHostReverseProxy(target),
		recent: map[string][]time.Time{}, calls: map[string][]time.Time{}, rejected: map[string]int{}}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	g.proxy.Transport = transport
	g.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		g.mu.Lock()
		g.abandoned++
		g.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	g.server = httptest.NewServer(http.HandlerFunc(g.serve))
	g.url = g.server.URL + "/"
	return g
}

func (g *quotaGate) close() { g.server.Close() }

func (g *quotaGate) serve(w http.ResponseWriter, r *http.Request) {
	m := objectPath.FindStringSubmatch(r.URL.EscapedPath())
	if m == nil {
		g.proxy.ServeHTTP(w, r)
		return
	}
	issuer, now := m[1], time.Now()
	g.mu.Lock()
	recent := slices.DeleteFunc(g.recent[issuer], func(t time.Time) bool { return now.Sub(t) >= time.Second })
	if len(recent) >= g.quota {
		g.recent[issuer] = recent
		g.rejected[issuer]++
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": http.StatusTooManyRequests, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
		return
	}
	g.recent[issuer] = append(recent, now)
	g.calls[issuer] = append(g.calls[issuer], now)
	g.mu.Unlock()
	g.proxy.ServeHTTP(w, r)
}

// issuerCalls is what the gate saw of one issuer.
type issuerCalls struct {
	at       []time.Time
	rejected int
}

// abandonedCalls is how many calls the caller gave up on before the fake answered.
func (g *quotaGate) abandonedCalls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.abandoned
}

func (g *quotaGate) of(issuer string) issuerCalls {
	g.mu.Lock()
	defer g.mu.Unlock()
	return issuerCalls{at: slices.Clone(g.calls[issuer]), rejected: g.rejected[issuer]}
}

// achievedRate is the calls a second from the first call to the last, leaving out the limiter's initial burst,
// which a full bucket lets through at once.
func (c issuerCalls) achievedRate() float64 {
	if len(c.at) <= google.MaxBurst+1 {
		return 0
	}
	span := c.at[len(c.at)-1].Sub(c.at[0]).Seconds()
	return float64(len(c.at)-google.MaxBurst) / span
}

// span is the time from the first call to the last.
func (c issuerCalls) span() time.Duration {
	if len(c.at) < 2 {
		return 0
	}
	return c.at[len(c.at)-1].Sub(c.at[0])
}

// maxPerSecond is the most calls in any sliding second.
func (c issuerCalls) maxPerSecond() int {
	best, j := 0, 0
	for i := range c.at {
		for c.at[i].Sub(c.at[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
