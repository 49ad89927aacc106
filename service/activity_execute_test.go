package service_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	httpport "github.com/passpush/passpush/ports/http"
)

// contactData is what Journey Builder knows about the contact entering the journey, by data-binding path.
var contactData = map[string]string{
	"Event.DEAudience-1.Email":         "Ann@Example.com",
	"Event.DEAudience-1.Offer":         `2 for 1 on "Classic" coffee`,
	"Contact.Attribute.Loyalty.Points": "120",
}

var dataBinding = regexp.MustCompile(`\{\{\s*([^{}]+?)\s*\}\}`)

// bindContact resolves the data bindings in inArguments as Journey Builder does before it signs an execute
// call: each {{path}} in a string value becomes the contact's value, as it is.
func bindContact(t *testing.T, inArguments []any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, item := range inArguments {
		bound := map[string]any{}
		for k, v := range item.(map[string]any) {
			s, ok := v.(string)
			if !ok {
				bound[k] = v
				continue
			}
			bound[k] = dataBinding.ReplaceAllStringFunc(s, func(expr string) string {
				path := dataBinding.FindStringSubmatch(expr)[1]
				value, ok := contactData[path]
				if !ok {
					t.Fatalf("the contact has no value for the binding %s", expr)
				}
				return value
			})
		}
		out = append(out, bound)
	}
	return out
}

// executeThePagesArguments sends inArguments saved by the configuration page through a signed execute call for
// ann@example.com, and checks that her loyalty pass, and only that one, changes as configured.
func executeThePagesArguments(t *testing.T, h *harness, inArguments []any) {
	t.Helper()
	for id, body := range map[string]string{
		"loyalty-1": `{"passType":"loyalty","email":"ann@example.com","data":{"offer":"none","points":"10","tier":"gold"}}`,
		"coupon-1":  `{"passType":"coupon","email":"ann@example.com","data":{"offer":"none"}}`,
	} {
		if res := h.admin(http.MethodPut, "/api/acme/passes/"+id, body); res.status != http.StatusCreated {
			t.Fatalf("register pass %s: %d %s", id, res.status, res.body)
		}
	}
	jb := newJourneyBuilder(h)
	res := jb.execute("acme", jb.sign(jb.executeClaims("entry-1", bindContact(t, inArguments)...)))
	if res.status != http.StatusOK || string(res.body) != "{\"status\":\"scheduled\",\"passes\":1}\n" {
		t.Fatalf("execute: %d %s", res.status, res.body)
	}

	var pass map[string]any
	eventually(t, 10*time.Second, "the loyalty pass to change", func() bool {
		pass = h.admin(http.MethodGet, "/api/acme/passes/loyalty-1", "").json(t)
		return pass["version"] == 2.0
	})
	want := map[string]any{"offer": `2 for 1 on "Classic" coffee`, "points": "120", "expires": "2026-12-31", "tier": "gold"}
	if data := pass["data"].(map[string]any); len(data) != len(want) {
		t.Fatalf("loyalty pass data = %v, want %v", data, want)
	} else {
		for k, v := range want {
			if data[k] != v {
				t.Fatalf("loyalty pass data = %v, want %v", data, want)
			}
		}
	}
	if coupon := h.admin(http.MethodGet, "/api/acme/passes/coupon-1", "").json(t); coupon["version"] != 1.0 {
		t.Fatalf("the pass type filter let the coupon pass change: %v", coupon)
	}
	// The audit log is a projection too: it catches up.
	var events []any
	eventually(t, 10*time.Second, "PassUpdateScheduled in the audit log", func() bool {
		events = h.admin(http.MethodGet, "/api/acme/audit?passId=loyalty-1&type=PassUpdateScheduled", "").json(t)["events"].([]any)
		return len(events) > 0
	})
	if len(events) != 1 {
		t.Fatalf("audit = %v, want one PassUpdateScheduled", events)
	}
	if msg := events[0].(map[string]any)["data"].(map[string]any)["message"]; msg != `Your offer: 2 for 1 on "Classic" coffee` {
		t.Fatalf("lock-screen message = %q", msg)
	}
}

// The configuration page's saved inArguments (asserted exactly by TestConfigPage_roundTripsAConfigurationThroughPostmonger)
// update a pass end to end. The browser test runs the same chain with what it captured.
func TestExecute_withTheConfigPagesInArgumentsUpdatesThePass(t *testing.T) {
	h := start(t, httpport.Config{AdminToken: adminToken})
	h.addTenant("acme")
	var inArguments []any
	for _, a := range pageSavedInArguments {
		inArguments = append(inArguments, a)
	}
	executeThePagesArguments(t, h, inArguments)
}
