package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/service"
)

// feedEvent is one event as the feed shows it.
type feedEvent struct {
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	StreamID      string          `json:"streamId"`
	JourneyID     string          `json:"journeyId"`
	PassID        string          `json:"passId"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

type feedPage struct {
	Events []feedEvent `json:"events"`
	Next   *int64      `json:"next"`
}

// feed reads one answer of the tenant's event feed with the admin token.
func (h *harness) feed(tenantID, query string) feedPage {
	h.t.Helper()
	res := h.admin(http.MethodGet, "/api/"+tenantID+"/events?"+query, "")
	if res.status != http.StatusOK {
		h.t.Fatalf("GET events?%s: %d %s", query, res.status, res.body)
	}
	var page feedPage
	if err := json.Unmarshal(res.body, &page); err != nil {
		h.t.Fatalf("feed page %s: %v", res.body, err)
	}
	if page.Events == nil || page.Next == nil {
		h.t.Fatalf("feed page %s: want events [] and next a position", res.body)
	}
	return page
}

// followFeed follows next from after until an answer is empty.
func (h *harness) followFeed(tenantID string, after int64, limit int) ([]feedEvent, int64) {
	h.t.Helper()
	var all []feedEvent
	for {
		page := h.feed(tenantID, fmt.Sprintf("after=%d&limit=%d", after, limit))
		if len(page.Events) == 0 {
			if *page.Next != after {
				h.t.Fatalf("an empty answer after %d has next %d", after, *page.Next)
			}
			return all, after
		}
		if len(page.Events) > limit {
			h.t.Fatalf("%d events for limit %d", len(page.Events), limit)
		}
		if *page.Next != page.Events[len(page.Events)-1].Position {
			h.t.Fatalf("next %d is not the last event's position %d", *page.Next, page.Events[len(page.Events)-1].Position)
		}
		all = append(all, page.Events...)
		after = *page.Next
	}
}

// feedHead waits for the tenant's first event (its TenantCreated, which the projection may not have taken yet) and
// returns the position of its last.
func (h *harness) feedHead(tenantID string) int64 {
	h.t.Helper()
	first := h.feed(tenantID, "after=0&limit=1&wait=10s")
	if len(first.Events) == 0 {
		h.t.Fatalf("tenant %s has no event in the feed", tenantID)
	}
	_, last := h.followFeed(tenantID, 0, 1000)
	return last
}

func importLoyaltyPasses(h *harness, tenantID, prefix string, n int) {
	h.t.Helper()
	passes := make([]command.RegisterPass, n)
	for i := range passes {
		passes[i] = loyaltyPass(fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("%s%d@example.com", prefix, i), "")
	}
	h.importPasses(tenantID, passes)
}

func TestEventFeed_followingNextSeesEveryEventOfItsTenantOnce(t *testing.T) {
	h := startWithTenant(t)
	h.addTenant("other")
	importLoyaltyPasses(h, "acme", "a", 23)
	importLoyaltyPasses(h, "other", "o", 5)

	got, last := h.followFeed("acme", 0, 10)
	// The audit API lists the same events: the feed is the audit log, by the same positions.
	want := h.auditAll("acme", "", 1000)
	if len(got) != len(want) || len(got) < 23 {
		t.Fatalf("the feed has %d events, the audit log %d (at least the 23 passes)", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Position != w.Position || g.Type != w.Type || g.PassID != w.PassID || !g.OccurredAt.Equal(w.OccurredAt) || string(g.Data) != string(w.Data) {
			t.Fatalf("feed event %d is %+v, the audit log's %+v", i, g, w)
		}
		if i > 0 && g.Position <= got[i-1].Position {
			t.Fatalf("positions out of order: %d after %d", g.Position, got[i-1].Position)
		}
		if strings.HasPrefix(g.PassID, "o-") {
			t.Fatalf("acme's feed shows other's event %+v", g)
		}
	}
	registered := 0
	for _, e := range got {
		if e.Type == "PassRegistered" {
			registered++
			if e.StreamID != "pass-"+e.PassID && !strings.HasSuffix(e.StreamID, e.PassID) {
				t.Errorf("event of pass %s has stream %q", e.PassID, e.StreamID)
			}
		}
	}
	if registered != 23 {
		t.Fatalf("%d PassRegistered events, want 23", registered)
	}

	others, _ := h.followFeed("other", 0, 1000)
	for _, e := range others {
		if strings.HasPrefix(e.PassID, "a-") || slices.ContainsFunc(got, func(a feedEvent) bool { return a.Position == e.Position }) {
			t.Fatalf("other's feed shows acme's event %+v", e)
		}
	}

	// Nothing after the last: an empty answer at once, whose next is where the reader is.
	page := h.feed("acme", fmt.Sprintf("after=%d", last))
	if len(page.Events) != 0 || *page.Next != last {
		t.Fatalf("after the last event: %+v", page)
	}
}

func TestEventFeed_longPollAnswersWhenAnEventComes(t *testing.T) {
	h := startWithTenant(t)
	last := h.feedHead("acme")

	answer := make(chan feedPage, 1)
	go func() { answer <- h.feed("acme", fmt.Sprintf("after=%d&wait=30s", last)) }()
	// Let the request start waiting, without depending on it: an event stored before it comes in is answered
	// at once, which is right too.
	time.Sleep(300 * time.Millisecond)
	h.putPass("acme", "late", `{"passType":"loyalty","email":"late@example.com"}`)

	select {
	case page := <-answer:
		if len(page.Events) == 0 || page.Events[0].PassID != "late" || page.Events[0].Position <= last {
			t.Fatalf("the long poll answered %+v, want the new pass's event after %d", page, last)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the long poll did not answer when the event came")
	}
}

func TestEventFeed_longPollAnswersEmptyWhenTheWaitEnds(t *testing.T) {
	h := startWithTenant(t)
	h.addTenant("other")
	last := h.feedHead("acme")

	answer := make(chan feedPage, 1)
	start := time.Now()
	go func() { answer <- h.feed("acme", fmt.Sprintf("after=%d&wait=1s", last)) }()
	// Another tenant's event does not end acme's wait.
	importLoyaltyPasses(h, "other", "o", 3)
	page := <-answer
	if took := time.Since(start); took < time.Second {
		t.Fatalf("answered after %s, before the wait of 1s", took)
	}
	if len(page.Events) != 0 || *page.Next != last {
		t.Fatalf("after the wait: %+v, want no events and next %d", page, last)
	}
}

func TestEventFeed_refusesBadParameters(t *testing.T) {
	h := startWithTenant(t)
	for query, code := range map[string]string{
		"after=-1":                   "invalid_after",
		"after=x":                    "invalid_after",
		"after=1.5":                  "invalid_after",
		"after=99999999999999999999": "invalid_after",
		"limit=0":                    "invalid_limit",
		"limit=1001":                 "invalid_limit",
		"limit=ten":                  "invalid_limit",
		"wait=61s":                   "invalid_wait",
		"wait=-1s":                   "invalid_wait",
		"wait=soon":                  "invalid_wait",
		"wait=3601":                  "invalid_wait",
		"wait=1h":                    "invalid_wait",
	} {
		res := h.admin(http.MethodGet, "/api/acme/events?"+query, "")
		wantError(t, res, http.StatusBadRequest, code)
	}
	// The longest wait and a wait in seconds are taken.
	for _, query := range []string{"wait=0", "wait=0s", "limit=1000&wait=0", "limit=1"} {
		h.feed("acme", query)
	}
}

func TestEventFeed_takesTheAdminTokenOnly(t *testing.T) {
	h := startWithTenant(t)
	key := h.createKey("acme", "crm")
	for name, token := range map[string]string{"no token": "", "a wrong token": "wrong", "acme's API key": key} {
		res := h.do(http.MethodGet, "/api/acme/events", token, nil)
		if res.status != http.StatusUnauthorized {
			t.Errorf("with %s: %d %s, want 401", name, res.status, res.body)
			continue
		}
		wantError(t, res, http.StatusUnauthorized, "unauthorized")
	}
	wantError(t, h.admin(http.MethodGet, "/api/nobody/events", ""), http.StatusNotFound, "unknown_tenant")
	wantError(t, h.admin(http.MethodPost, "/api/acme/events", ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestEventFeed_stopsWaitingWhenTheClientGoesAway(t *testing.T) {
	svc, handler := runService(t, service.Config{})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	h := &harness{t: t, svc: svc, url: srv.URL}
	h.addTenant("acme")
	last := h.feedHead("acme")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/acme/events?after=%d&wait=60s", h.url, last), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("answered %d before the client left", res.StatusCode)
	}
	// The server's long poll ended with the client: closing the server waits for its requests, which would take
	// the whole minute otherwise.
	start := time.Now()
	srv.Close()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the server took %s to close: the abandoned long poll went on", took)
	}
}

// FuzzEventFeedParameters sends the feed any query string: it answers 200 with a page or 400 with a stable code,
// never another status, and never waits past the longest wait.
func FuzzEventFeedParameters(f *testing.F) {
	for _, seed := range []string{"", "after=0&limit=1000&wait=0", "after=-1", "limit=0", "wait=61s", "wait=1e3s",
		"after=9223372036854775807", "after=9223372036854775808", "limit=%00", "wait=0.001s", "after=1&after=2", "wait=+5"} {
		f.Add(seed)
	}
	svc, handler := runService(f, service.Config{Feed: query.EventsConfig{MaxWait: 50 * time.Millisecond}})
	if _, _, err := svc.App.Commands.SaveTenant.Handle(context.Background(), command.SaveTenant{
		TenantID: "acme", Mode: command.CreateOnly, Changes: tenant.Changes{SFMCSigningSecrets: []string{sfmcSecret}},
	}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := httptest.NewRequest(http.MethodGet, "/api/acme/events", nil)
		req.URL.RawQuery = rawQuery
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(rec, req)
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("?%s took %s", rawQuery, took)
		}
		switch rec.Code {
		case http.StatusOK:
			var page feedPage
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Events == nil || page.Next == nil {
				t.Fatalf("?%s: 200 %s", rawQuery, rec.Body)
			}
		case http.StatusBadRequest:
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" {
				t.Fatalf("?%s: 400 %s", rawQuery, rec.Body)
			}
		default:
			t.Fatalf("?%s: %d %s", rawQuery, rec.Code, rec.Body)
		}
	})
}
