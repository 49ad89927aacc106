package service_test

// Issue 13 §6, §7 and §8: the limit on failed JWT verifications, the security log of those failures, and the
// headers of the API's answers and of the configuration page.

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/sirupsen/logrus"
)

// handClock is a clock the test moves.
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func newHandClock() *handClock { return &handClock{now: time.Now()} }

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestJWTFailures_pastTheLimitFailuresGet429AndJourneyBuilderIsStillServed(t *testing.T) {
	clk := newHandClock()
	h := start(t, httpport.Config{AdminToken: adminToken, Now: clk.Now})
	h.addTenant("acme")
	h.addTenant("other")
	jb := newJourneyBuilder(h)
	forged := jb.signedWithSecret("a-guessed-secret-0123456789", jb.executeClaims("entry-1", map[string]any{"passId": "p-1"}))

	for i := range httpport.JWTFailureLimit {
		if res := jb.execute("acme", forged); res.status != http.StatusUnauthorized {
			t.Fatalf("forged token %d: %d %s, want 401", i+1, res.status, res.body)
		}
	}
	res := jb.execute("acme", forged)
	wantError(t, res, http.StatusTooManyRequests, "too_many_jwt_failures")
	if ra := res.header.Get("Retry-After"); ra != "10" {
		t.Errorf("Retry-After = %q, want 10", ra)
	}
	// A lifecycle call that does not verify is refused too; one that verifies is served; so is another tenant.
	wantError(t, jb.post("acme", "save", "application/jwt", jb.signedWithSecret("a-guessed-secret-0123456789", jwt.MapClaims(lifecycleBody("save", "j")))),
		http.StatusTooManyRequests, "too_many_jwt_failures")
	if res := jb.post("acme", "save", "application/jwt", jb.sign(jwt.MapClaims(lifecycleBody("save", "journey-limited")))); res.status != http.StatusOK {
		t.Errorf("Journey Builder's signed save during the block: %d %s, want 200", res.status, res.body)
	}
	if res := jb.execute("acme", jb.sign(jb.executeClaims("entry-1", map[string]any{"passId": "p-1"}))); res.status == http.StatusTooManyRequests {
		t.Errorf("Journey Builder's signed execute during the block got 429: %s", res.body)
	}
	if res := jb.execute("other", forged); res.status != http.StatusUnauthorized {
		t.Errorf("another tenant's forged token: %d, want 401: the limit is per tenant", res.status)
	}
	// The block lasts 10 s.
	clk.Advance(httpport.JWTFailureBlock)
	if res := jb.execute("acme", forged); res.status != http.StatusUnauthorized {
		t.Errorf("after the block: %d %s, want 401", res.status, res.body)
	}
}

func TestJWTFailures_areLoggedOncePerSecondPerTenantWithCountsAndNoToken(t *testing.T) {
	clk := newHandClock()
	h, hook := startWithLogHook(t, httpport.Config{AdminToken: adminToken, Now: clk.Now})
	jb := newJourneyBuilder(h)
	forged := jb.signedWithSecret("a-guessed-secret-0123456789", jb.executeClaims("entry-1", map[string]any{"passId": "p-1"}))
	failures := func() []*logrus.Entry {
		var out []*logrus.Entry
		for _, e := range hook.AllEntries() {
			if e.Message == "JWT verification failed" {
				out = append(out, e)
			}
		}
		return out
	}

	for range 5 {
		jb.execute("acme", forged)
	}
	jb.execute("acme", "a.b.c")
	lines := failures()
	if len(lines) != 1 {
		t.Fatalf("6 failures in the same second logged %d lines, want 1", len(lines))
	}
	first := lines[0]
	if first.Level != logrus.InfoLevel || first.Data["tenant"] != "acme" || first.Data["failures"] != 1 || first.Data["reason"] != "bad_signature" ||
		first.Data["route"] != "/api/{tenantId}"+sfmcRoute+"/execute" || first.Data["client"] != "127.0.0.1" {
		t.Errorf("first line: %s %v", first.Level, first.Data)
	}
	clk.Advance(time.Second)
	jb.execute("acme", "a.b.c")
	lines = failures()
	if len(lines) != 2 || lines[1].Data["failures"] != 6 || lines[1].Data["reason"] != "malformed" {
		t.Fatalf("a second later: %d lines, the last %v; want 2, the last counting the 6 failures since the first", len(lines), lines[len(lines)-1].Data)
	}
	// No line holds the token, its signature or the secret.
	signature := forged[strings.LastIndex(forged, ".")+1:]
	for _, e := range hook.AllEntries() {
		line, _ := e.String()
		if strings.Contains(line, signature) || strings.Contains(line, forged[:20]) || strings.Contains(line, sfmcSecret) {
			t.Fatalf("a log line holds the token or the secret: %s", line)
		}
	}
}

func TestLifecycle_anUnsignedCallIsLoggedWithTheTenantAndAHashOfItsBody(t *testing.T) {
	h, hook := startWithLogHook(t, testConfig())
	jb := newJourneyBuilder(h)
	if res := jb.post("acme", "publish", "text/plain", `{}`); res.status != http.StatusOK {
		t.Fatalf("unsigned publish: %d %s", res.status, res.body)
	}
	sum := sha256.Sum256([]byte(`{}`))
	for _, e := range hook.AllEntries() {
		if e.Data["body_sha256"] != nil {
			if e.Level != logrus.InfoLevel || e.Data["tenant"] != "acme" || e.Data["stage"] != "publish" || e.Data["body_sha256"] != hex.EncodeToString(sum[:]) {
				t.Fatalf("unsigned call logged as %s %v", e.Level, e.Data)
			}
			return
		}
	}
	t.Fatal("the unsigned call was not logged")
}

func TestHeaders_apiAnswersAreNoStoreAndNosniffAndThePageMayOnlyBeFramedByMarketingCloud(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	for name, res := range map[string]response{
		"healthz":        h.do(http.MethodGet, "/healthz", "", nil),
		"admin tenants":  h.admin(http.MethodGet, "/api/admin/tenants/acme", ""),
		"refused admin":  h.do(http.MethodGet, "/api/admin/tenants", "", nil),
		"no such route":  h.do(http.MethodGet, "/nowhere", "", nil),
		"wrong method":   h.do(http.MethodDelete, "/healthz", "", nil),
		"unknown tenant": jb.post("nobody", "save", "application/json", `{}`),
		"unsigned save":  jb.post("acme", "save", "text/plain", `{}`),
		"forged execute": jb.execute("acme", jb.signedWithSecret("a-guessed-secret-0123456789", jwt.MapClaims{})),
	} {
		if cc, nosniff := res.header.Get("Cache-Control"), res.header.Get("X-Content-Type-Options"); cc != "no-store" || nosniff != "nosniff" {
			t.Errorf("%s (%d): Cache-Control %q, X-Content-Type-Options %q; want no-store and nosniff", name, res.status, cc, nosniff)
		}
	}
	page := h.do(http.MethodGet, activityBase+"/index.html", "", nil)
	if csp := page.header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; frame-ancestors "+httpport.DefaultFrameAncestors) ||
		httpport.DefaultFrameAncestors != "https://*.exacttarget.com https://*.marketingcloudapps.com" {
		t.Errorf("the page's CSP is %q", csp)
	}
	if cc := page.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("the page's Cache-Control is %q, want its own no-cache", cc)
	}
	if css := h.do(http.MethodGet, activityBase+"/activity.css", "", nil); css.header.Get("Cache-Control") != "public, max-age=86400" || css.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the stylesheet's headers: %v", css.header)
	}

	custom := start(t, httpport.Config{AdminToken: adminToken, FrameAncestors: "https://mc.example.com"})
	custom.addTenant("acme")
	if csp := custom.do(http.MethodGet, activityBase+"/index.html", "", nil).header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; frame-ancestors https://mc.example.com") {
		t.Errorf("with PASSPUSH_FRAME_ANCESTORS set, the page's CSP is %q", csp)
	}
}
