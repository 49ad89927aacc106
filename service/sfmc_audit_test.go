package service_test

// Issue 3 §4: the audit API lists a tenant's events in global order, filtered, a page at a time, and survives a
// rebuild of its projection.

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/app/rebuild"
	"github.com/passpush/passpush/service"

	"github.com/golang-jwt/jwt/v5"
)

// auditFixture is two tenants that use the same pass id and journey id: acme with p-1 and p-2 updated by two
// journeys and a saved journey, and other with its own p-1 updated by journey-1.
func auditFixture(t *testing.T) (*harness, map[string]string) {
	t.Helper()
	h := startWithTenant(t)
	h.addTenant("other")
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	h.putPass("acme", "p-2", `{"passType":"loyalty","email":"bob@example.com"}`)
	h.putPass("other", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	jb := newJourneyBuilder(h)
	requestIDs := map[string]string{}
	send := func(tenantID, journeyID, entry, passID string) {
		jb.journeyID = journeyID
		jb.secret = sfmcSecretOf(tenantID)
		req, err := http.NewRequest(http.MethodPost, h.url+"/api/"+tenantID+sfmcRoute+"/execute",
			strings.NewReader(jb.sign(jb.executeClaims(entry, in("passId", passID)))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/jwt")
		req.Header.Set("X-Request-Id", "jb-"+tenantID+"-"+entry)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("execute %s/%s: %d", tenantID, entry, res.StatusCode)
		}
		requestIDs[tenantID+"/"+entry] = res.Header.Get("X-Request-Id")
	}
	send("acme", "journey-1", "entry-1", "p-1")
	send("acme", "journey-2", "entry-2", "p-2")
	send("other", "journey-1", "entry-3", "p-1")
	jb.secret = sfmcSecretOf("acme")
	if res := jb.post("acme", "save", "application/jwt", jb.sign(jwt.MapClaims(lifecycleBody("save", "journey-1")))); res.status != http.StatusOK {
		t.Fatalf("save: %d %s", res.status, res.body)
	}
	h.settled(30 * time.Second)
	// Each tenant's creation, 3 registrations, 3 updates, 3 outcomes and one save.
	poll(t, 30*time.Second, 20*time.Millisecond, "the audit log to catch up", func() bool {
		return len(h.auditAll("acme", "", 1000)) == 8 && len(h.auditAll("other", "", 1000)) == 4
	})
	return h, requestIDs
}

func TestAudit_listsTheTenantsEventsInOrderWithFilters(t *testing.T) {
	h, requestIDs := auditFixture(t)
	all := h.auditAll("acme", "", 1000)
	want := []string{"TenantCreated", "PassRegistered", "PassRegistered", "PassUpdateScheduled", "PassUpdateScheduled", "PushUpdateEmitted", "PushUpdateEmitted", "ActivitySaved"}
	if got := auditTypesOf(all); !sameMultiset(got, want) {
		t.Fatalf("acme's audit log lists %v, want %v in some order", got, want)
	}
	for i, e := range all {
		if i > 0 && e.Position <= all[i-1].Position {
			t.Fatalf("positions are not increasing: %d after %d", e.Position, all[i-1].Position)
		}
		if e.OccurredAt.IsZero() || len(e.Data) == 0 {
			t.Errorf("event %d misses occurredAt or data: %+v", i, e)
		}
		if strings.Contains(string(e.Data), "entry-3") || e.CorrelationID == requestIDs["other/entry-3"] {
			t.Errorf("acme's audit log shows other's event %+v", e)
		}
	}
	// Per pass, the global order is the pass's order: registered, scheduled, emitted.
	for _, passID := range []string{"p-1", "p-2"} {
		if got := auditTypesOf(h.auditAll("acme", "passId="+passID, 1000)); !reflect.DeepEqual(got, []string{"PassRegistered", "PassUpdateScheduled", "PushUpdateEmitted"}) {
			t.Errorf("passId=%s lists %v", passID, got)
		}
	}
	j1 := h.auditAll("acme", "journeyId=journey-1", 1000)
	if got := auditTypesOf(j1); !sameMultiset(got, []string{"PassUpdateScheduled", "PushUpdateEmitted", "ActivitySaved"}) {
		t.Errorf("journeyId=journey-1 lists %v", got)
	}
	for _, e := range j1 {
		if e.JourneyID != "journey-1" || (e.Type != "ActivitySaved" && e.PassID != "p-1") {
			t.Errorf("journeyId=journey-1 lists %+v", e)
		}
		if e.Type == "PassUpdateScheduled" && e.CorrelationID != requestIDs["acme/entry-1"] {
			t.Errorf("the update's correlationId is %q, want the execute's request id %q", e.CorrelationID, requestIDs["acme/entry-1"])
		}
	}
	if got := auditTypesOf(h.auditAll("acme", "type=PassUpdateScheduled", 1000)); len(got) != 2 {
		t.Errorf("type=PassUpdateScheduled lists %v", got)
	}
	if got := h.auditAll("acme", "journeyId=journey-2&passId=p-2&type=PushUpdateEmitted", 1000); len(got) != 1 || got[0].PassID != "p-2" {
		t.Errorf("the three filters together list %+v", got)
	}
	if got := h.auditAll("acme", "journeyId=journey-404", 1000); len(got) != 0 {
		t.Errorf("an unknown journey lists %+v", got)
	}

	// Tenant scoping: other sees its four events and nothing of acme's.
	others := h.auditAll("other", "", 1000)
	if got := auditTypesOf(others); !reflect.DeepEqual(got, []string{"TenantCreated", "PassRegistered", "PassUpdateScheduled", "PushUpdateEmitted"}) {
		t.Fatalf("other's audit log lists %v", got)
	}
	for _, e := range others {
		if strings.Contains(string(e.Data), "entry-1") || strings.Contains(string(e.Data), "entry-2") {
			t.Errorf("other's audit log shows acme's event %+v", e)
		}
	}
	if got := h.auditAll("other", "passId=p-2", 1000); len(got) != 0 {
		t.Errorf("other sees acme's pass p-2: %+v", got)
	}

	// The pass registry's changes are audited too.
	h.putPass("acme", "p-2", `{"passType":"loyalty","email":"bob@example.com","data":{"tier":"gold"}}`)
	eventually(t, 10*time.Second, "PassDataChanged in the audit log", func() bool {
		return len(h.auditAll("acme", "passId=p-2&type=PassDataChanged", 100)) == 1
	})
}

func sameMultiset(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	n := map[string]int{}
	for _, s := range a {
		n[s]++
	}
	for _, s := range b {
		n[s]--
	}
	for _, c := range n {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestAudit_pagesWithACursor(t *testing.T) {
	h, _ := auditFixture(t)
	all := h.auditAll("acme", "", 1000)
	for _, limit := range []int{1, 2, 3, 7, 8, 9} {
		var paged []auditEvent
		after := int64(0)
		for pages := 1; ; pages++ {
			page := h.auditPage("acme", fmt.Sprintf("limit=%d&after=%d", limit, after))
			if len(page.Events) > limit {
				t.Fatalf("limit=%d: a page of %d", limit, len(page.Events))
			}
			paged = append(paged, page.Events...)
			if page.Next == nil {
				break
			}
			if len(page.Events) == 0 || *page.Next != page.Events[len(page.Events)-1].Position {
				t.Fatalf("limit=%d: next %d does not name the page's last position (%+v)", limit, *page.Next, page.Events)
			}
			after = *page.Next
			if pages > len(all)+1 {
				t.Fatalf("limit=%d: the cursor never ends", limit)
			}
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("limit=%d: the pages list %v, want %v", limit, auditTypesOf(paged), auditTypesOf(all))
		}
	}
	last := all[len(all)-1].Position
	if page := h.auditPage("acme", fmt.Sprintf("after=%d", last)); len(page.Events) != 0 || page.Next != nil {
		t.Errorf("after the last position: %+v", page)
	}
	// The cursor works with filters too.
	first := h.auditPage("acme", "type=PassRegistered&limit=1")
	if len(first.Events) != 1 || first.Next == nil {
		t.Fatalf("first filtered page: %+v", first)
	}
	second := h.auditPage("acme", fmt.Sprintf("type=PassRegistered&limit=1&after=%d", *first.Next))
	if len(second.Events) != 1 || second.Events[0].Position <= first.Events[0].Position || second.Events[0].Type != "PassRegistered" {
		t.Fatalf("second filtered page: %+v", second)
	}
}

func TestAudit_needsTheAdminTokenAndValidParameters(t *testing.T) {
	h := startWithTenant(t)
	for _, token := range []string{"", "wrong", adminToken + "x"} {
		res := h.do(http.MethodGet, "/api/acme/audit", token, nil)
		wantError(t, res, http.StatusUnauthorized, "unauthorized")
	}
	// Journey Builder's signed JWT is no admin token.
	jb := newJourneyBuilder(h)
	wantError(t, h.do(http.MethodGet, "/api/acme/audit", jb.sign(jb.executeClaims("e", in("passId", "p"))), nil), http.StatusUnauthorized, "unauthorized")
	for _, q := range []string{"after=-1", "after=abc", "limit=0", "limit=abc", "limit=100000"} {
		wantError(t, h.admin(http.MethodGet, "/api/acme/audit?"+q, ""), http.StatusBadRequest, "invalid_request")
	}
	wantError(t, h.admin(http.MethodGet, "/api/nobody/audit", ""), http.StatusNotFound, "unknown_tenant")
	if page := h.auditPage("acme", "type=PassRegistered"); page.Events == nil || len(page.Events) != 0 || page.Next != nil {
		t.Fatalf("an empty audit log: %+v", page)
	}
}

func TestAudit_listsTheSameEventsAfterARebuild(t *testing.T) {
	h, _ := auditFixture(t)
	before := map[string][]auditEvent{"acme": h.auditAll("acme", "", 1000), "other": h.auditAll("other", "", 1000)}
	report, err := h.svc.RebuildProjections(context.Background(), rebuild.Options{Projection: service.ProjectionAudit})
	if err != nil {
		t.Fatal(err)
	}
	if n, stored := int(report.Events), len(h.storedEvents()); n != stored {
		t.Errorf("the rebuild applied %d events, the store holds %d", n, stored)
	}
	for tenantID, want := range before {
		got := h.auditAll(tenantID, "", 1000)
		if len(got) != len(want) {
			t.Fatalf("%s: %d events after the rebuild, %d before", tenantID, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			g.Position, w.Position = 0, 0
			if !g.OccurredAt.Equal(w.OccurredAt) {
				t.Errorf("%s event %d: occurredAt %s after the rebuild, %s before", tenantID, i, g.OccurredAt, w.OccurredAt)
			}
			g.OccurredAt, w.OccurredAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s event %d after the rebuild:\n%+v\nbefore:\n%+v", tenantID, i, g, w)
			}
		}
	}
	// The rebuilt log keeps filtering and paging.
	if got := auditTypesOf(h.auditAll("acme", "passId=p-1", 2)); !reflect.DeepEqual(got, []string{"PassRegistered", "PassUpdateScheduled", "PushUpdateEmitted"}) {
		t.Errorf("after the rebuild passId=p-1 lists %v", got)
	}
}
