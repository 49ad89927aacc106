package service_test

// Issue 3 §1 "inArguments keys": which passes a contact entry updates, and with which fields.

import (
	"maps"
	"slices"
	"sort"
	"testing"
	"time"
)

// contactFixture is acme with a webhook and four passes; ann has three of them, under three spellings of her email.
func contactFixture(t *testing.T) (*harness, *journeyBuilder, *receiver) {
	t.Helper()
	h := startWithTenant(t)
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"10","tier":"silver"}}`)
	h.putPass("acme", "p-2", `{"passType":"coupon","email":"Ann@Example.com","customId":"c-2","data":{"offer":"none"}}`)
	h.putPass("acme", "p-3", `{"passType":"loyalty","email":"ANN@EXAMPLE.COM","data":{"points":"3"}}`)
	h.putPass("acme", "p-4", `{"passType":"loyalty","email":"bob@example.com","customId":"c-4"}`)
	return h, newJourneyBuilder(h), rcv
}

// scheduledFor waits for the PassUpdateScheduled events of one contact entry and returns them by pass.
func (h *harness) scheduledFor(entry string, passes int) map[string]storedEvent {
	h.t.Helper()
	var found map[string]storedEvent
	poll(h.t, 15*time.Second, 20*time.Millisecond, "the updates of "+entry, func() bool {
		found = map[string]storedEvent{}
		for _, e := range h.storedOfType("PassUpdateScheduled") {
			if e.payload["definitionInstanceId"] == entry {
				found[e.passID()] = e
			}
		}
		return len(found) >= passes
	})
	return found
}

func stringMap(t *testing.T, v any) map[string]string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("field %s = %v is not text", k, v)
		}
		out[k] = s
	}
	return out
}

func TestExecute_inArgumentsPickThePassesAndTheFields(t *testing.T) {
	h, _, _ := contactFixture(t)
	cases := []struct {
		name       string
		args       []map[string]any
		wantPasses []string
		wantFields map[string]string
	}{
		{"passId beats customId and email",
			[]map[string]any{in("email", "ann@example.com"), in("customId", "c-1"), in("passId", "p-3")},
			[]string{"p-3"}, map[string]string{}},
		{"customId beats email",
			[]map[string]any{in("email", "ann@example.com"), in("customId", "c-2")},
			[]string{"p-2"}, map[string]string{}},
		{"email matches case-insensitively and every pass of the contact",
			[]map[string]any{in("email", "aNN@example.COM")},
			[]string{"p-1", "p-2", "p-3"}, map[string]string{}},
		{"passType narrows the email's passes",
			[]map[string]any{in("email", "ann@example.com"), in("passType", "loyalty")},
			[]string{"p-1", "p-3"}, map[string]string{}},
		{"passType narrows a customId",
			[]map[string]any{in("customId", "c-1"), in("passType", "loyalty")},
			[]string{"p-1"}, map[string]string{}},
		{"identifiers nested in an object",
			[]map[string]any{in("identifiers", map[string]any{"customId": "c-4"})},
			[]string{"p-4"}, map[string]string{}},
		{"a nested passId beats a top-level email",
			[]map[string]any{in("identifiers", map[string]any{"passId": "p-2"}), in("email", "bob@example.com")},
			[]string{"p-2"}, map[string]string{}},
		{"nested identifiers keep their precedence",
			[]map[string]any{in("identifiers", map[string]any{"email": "bob@example.com", "customId": "c-2"})},
			[]string{"p-2"}, map[string]string{}},
		{"inArguments merge in order: the later value wins",
			[]map[string]any{in("email", "nobody@example.com"), in("points", "1"), in("email", "bob@example.com"), in("points", "2")},
			[]string{"p-4"}, map[string]string{"points": "2"}},
		{"a plain string key is a field update",
			[]map[string]any{in("passId", "p-1"), in("tier", "gold"), in("expires", "2027-01-01")},
			[]string{"p-1"}, map[string]string{"tier": "gold", "expires": "2027-01-01"}},
		{"additionalData as an object",
			[]map[string]any{in("passId", "p-1"), in("additionalData", map[string]any{"offer": "2 for 1", "balance": "12.50"})},
			[]string{"p-1"}, map[string]string{"offer": "2 for 1", "balance": "12.50"}},
		{"additionalData as a JSON string",
			[]map[string]any{in("passId", "p-1"), in("additionalData", `{"offer":"3 for 2","balance":"9"}`)},
			[]string{"p-1"}, map[string]string{"offer": "3 for 2", "balance": "9"}},
		{"additionalData wins a conflict when it comes after",
			[]map[string]any{in("passId", "p-1"), in("tier", "bronze"), in("additionalData", map[string]any{"tier": "platinum"})},
			[]string{"p-1"}, map[string]string{"tier": "platinum"}},
		{"additionalData wins a conflict when it comes first",
			[]map[string]any{in("passId", "p-1"), in("additionalData", `{"tier":"platinum"}`), in("tier", "bronze"), in("note", "kept")},
			[]string{"p-1"}, map[string]string{"tier": "platinum", "note": "kept"}},
		{"an empty additionalData string changes nothing",
			[]map[string]any{in("passId", "p-1"), in("additionalData", ""), in("tier", "gold")},
			[]string{"p-1"}, map[string]string{"tier": "gold"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := h.forTest(t)
			jb := newJourneyBuilder(h)
			entry := "entry-" + string(rune('a'+i))
			wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims(entry, c.args...))), len(c.wantPasses))
			got := h.scheduledFor(entry, len(c.wantPasses))
			if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, c.wantPasses) {
				t.Fatalf("updated %v, want %v", ids, c.wantPasses)
			}
			for id, e := range got {
				if fields := stringMap(t, e.payload["fields"]); !maps.Equal(fields, c.wantFields) {
					t.Errorf("pass %s: fields %v, want %v", id, fields, c.wantFields)
				}
				data := stringMap(t, e.payload["data"])
				for k, v := range c.wantFields {
					if data[k] != v {
						t.Errorf("pass %s: data[%s] = %q after the update, want %q", id, k, data[k], v)
					}
				}
				if e.payload["journeyId"] != jb.journeyID || e.payload["activityId"] != jb.activityID || e.payload["contactKey"] != "contact-"+entry {
					t.Errorf("pass %s: the update does not name the journey, activity and contact: %v", id, e.payload)
				}
			}
		})
	}
}

func TestExecute_aContactWithThreePassesUpdatesAndDeliversAllThree(t *testing.T) {
	h, jb, rcv := contactFixture(t)
	token := jb.sign(jb.executeClaims("entry-ann",
		in("email", "Ann@example.com"),
		in("additionalData", `{"offer":"free coffee"}`),
		in("message", "New offer: %@")))
	wantScheduled(t, jb.execute("acme", token), 3)
	eventually(t, 15*time.Second, "three deliveries", func() bool { return rcv.delivered() == 3 })

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var ids []string
	for _, id := range []string{"p-1", "p-2", "p-3"} {
		msg := rcv.lastByPass[id]
		if msg == nil {
			t.Fatalf("pass %s was not delivered; got %v", id, rcv.lastByPass)
		}
		if msg["message"] != "New offer: %@" || msg["definitionInstanceId"] != "entry-ann" || msg["version"] != 2.0 {
			t.Errorf("pass %s: webhook got %v", id, msg)
		}
		if stringMap(t, msg["data"])["offer"] != "free coffee" {
			t.Errorf("pass %s: data %v", id, msg["data"])
		}
		ids = append(ids, msg["eventId"].(string))
	}
	sort.Strings(ids)
	if len(slices.Compact(slices.Clone(ids))) != 3 {
		t.Fatalf("the three updates share event ids: %v", ids)
	}
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 3 {
		t.Fatalf("%d updates scheduled, want 3", n)
	}
	if _, ok := rcv.lastByPass["p-4"]; ok {
		t.Fatal("bob's pass was delivered too")
	}
}

func TestExecute_messageAndFieldsReachTheWebhookAndTheReadModel(t *testing.T) {
	h, jb, rcv := contactFixture(t)
	before := h.passView("acme", "p-1")
	token := jb.sign(jb.executeClaims("entry-1",
		in("passId", "p-1"),
		in("points", "25"),
		in("additionalData", map[string]any{"offer": "double points"}),
		in("passType", "loyalty"),
		in("message", "You have %@ points")))
	wantScheduled(t, jb.execute("acme", token), 1)
	eventually(t, 15*time.Second, "the delivery", func() bool { return rcv.delivered() == 1 })
	rcv.mu.Lock()
	msg := rcv.lastByPass["p-1"]
	rcv.mu.Unlock()
	want := map[string]string{"points": "25", "tier": "silver", "offer": "double points"}
	if got := stringMap(t, msg["data"]); !maps.Equal(got, want) || msg["message"] != "You have %@ points" || msg["passType"] != "loyalty" {
		t.Fatalf("webhook got %v, want data %v", msg, want)
	}
	eventually(t, 15*time.Second, "the read model", func() bool { return h.passView("acme", "p-1")["version"] == 2.0 })
	after := h.passView("acme", "p-1")
	if got := stringMap(t, after["data"]); !maps.Equal(got, want) {
		t.Fatalf("read model data %v, want %v", got, want)
	}
	if after["updatedAt"] == before["updatedAt"] {
		t.Fatalf("updatedAt stayed %v", after["updatedAt"])
	}
}
