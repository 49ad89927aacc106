package service_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestExecute_updatesThePassAndDeliversItToTheWebhook(t *testing.T) {
	h := start(t, testConfig())
	rcv := newReceiver(t, "whsec")
	h.admin(http.MethodPut, "/api/admin/tenants/acme", fmt.Sprintf(`{"sfmcSigningSecrets":[%q],"webhook":{"url":%q,"secret":"whsec"}}`, sfmcSecret, rcv.server.URL))
	h.admin(http.MethodPut, "/api/acme/passes/p-1", `{"passType":"loyalty","email":"ann@example.com","data":{"points":"10","tier":"gold"}}`)
	jb := newJourneyBuilder(h)

	token := jb.sign(jb.executeClaims("entry-1",
		map[string]any{"email": "ANN@example.com"},
		map[string]any{"points": "20"},
		map[string]any{"additionalData": `{"offer":"2 for 1","points":"25"}`},
		map[string]any{"message": "You now have %@ points"}))
	res := jb.execute("acme", token)
	if res.status != http.StatusOK || string(res.body) != "{\"status\":\"scheduled\",\"passes\":1}\n" {
		t.Fatalf("execute: %d %s", res.status, res.body)
	}
	eventually(t, 10*time.Second, "the webhook delivery", func() bool { return rcv.delivered() == 1 })
	got := rcv.lastByPass["p-1"]
	data := got["data"].(map[string]any)
	if got["version"] != 2.0 || data["points"] != "25" || data["offer"] != "2 for 1" || data["tier"] != "gold" ||
		got["message"] != "You now have %@ points" || got["journeyId"] != "journey-1" || got["activityId"] != "activity-1" ||
		got["definitionInstanceId"] != "entry-1" || got["passType"] != "loyalty" || got["tenantId"] != "acme" {
		t.Fatalf("webhook got %v", got)
	}
	// The passes read model and the delivery stage are separate projections: the webhook may hear of the update
	// before the read model shows it.
	var p map[string]any
	eventually(t, 10*time.Second, "the read model to show version 2", func() bool {
		p = h.admin(http.MethodGet, "/api/acme/passes/p-1", "").json(t)
		return p["version"] == 2.0
	})
	if p["data"].(map[string]any)["offer"] != "2 for 1" {
		t.Fatalf("pass after execute: %v", p)
	}
	eventually(t, 10*time.Second, "PushUpdateEmitted in the audit log", func() bool {
		return count(h.auditTypes("passId=p-1"), "PushUpdateEmitted") == 1
	})
	if types := h.auditTypes("journeyId=journey-1"); count(types, "PassUpdateScheduled") != 1 || count(types, "PushUpdateEmitted") != 1 {
		t.Fatalf("journey audit = %v", types)
	}
}
