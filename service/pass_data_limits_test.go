package service_test

// Issue 13 §6: the caps on pass data (100 fields, names of 64 bytes, values of 2 KiB) hold on every way in: PUT,
// execute's fields, and the merge of a journey update into the pass's data.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dataOf is n fields f0…f(n-1) with the value v.
func dataOf(n int, v string) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("f%d", i)] = v
	}
	return m
}

// pastTheLimits are data that break one cap each, with the words the refusal names it with.
func pastTheLimits() map[string]struct {
	data map[string]any
	want string
} {
	return map[string]struct {
		data map[string]any
		want string
	}{
		"101 fields":        {dataOf(101, "v"), "limit of 100 fields"},
		"a 65-byte name":    {map[string]any{strings.Repeat("k", 65): "v"}, "limit of 64 bytes"},
		"a 2049-byte value": {map[string]any{"k": strings.Repeat("v", 2049)}, "limit of 2048 bytes"},
	}
}

// atTheLimits is 100 fields, one of them with a 64-byte name and a 2 KiB value.
func atTheLimits() map[string]any {
	data := dataOf(99, "v")
	data[strings.Repeat("k", 64)] = strings.Repeat("v", 2048)
	return data
}

func passBody(t *testing.T, data map[string]any) string {
	return string(mustJSON(t, map[string]any{"passType": "loyalty", "data": data}))
}

func TestPutPass_dataPastItsLimitsIsRefusedAndStoresNothing(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "at-limit", passBody(t, atTheLimits()))
	if got := len(h.passView("acme", "at-limit")["data"].(map[string]any)); got != 100 {
		t.Fatalf("the pass at the limits has %d fields, want 100", got)
	}
	h.putPass("acme", "kept", `{"passType":"loyalty","data":{"points":"1"}}`)

	for name, tt := range pastTheLimits() {
		t.Run(name, func(t *testing.T) {
			h := h.forTest(t)
			for _, id := range []string{"new", "kept"} {
				res := h.admin(http.MethodPut, "/api/acme/passes/"+id, passBody(t, tt.data))
				wantError(t, res, http.StatusBadRequest, "invalid_request")
				if !strings.Contains(string(res.body), tt.want) {
					t.Errorf("the refusal %s does not name the limit (%q)", res.body, tt.want)
				}
			}
			if res := h.admin(http.MethodGet, "/api/acme/passes/new", ""); res.status != http.StatusNotFound {
				t.Errorf("a refused new pass exists: %d %s", res.status, res.body)
			}
			if p := h.passView("acme", "kept"); p["version"] != float64(1) || len(p["data"].(map[string]any)) != 1 {
				t.Errorf("a refused change changed the pass: %v", p)
			}
		})
	}
}

func TestExecute_fieldsPastTheLimitsAreRefused(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "p-1", `{"passType":"loyalty","data":{}}`)
	jb := newJourneyBuilder(h)

	// At the limits, as inArguments and as additionalData.
	wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims("at-limit", in("passId", "p-1"), in("additionalData", atTheLimits())))), 1)
	h.scheduledFor("at-limit", 1)

	for name, tt := range pastTheLimits() {
		t.Run(name, func(t *testing.T) {
			h := h.forTest(t)
			jb := newJourneyBuilder(h)
			args := []map[string]any{in("passId", "p-1")}
			for k, v := range tt.data {
				args = append(args, in(k, v))
			}
			viaArgs := jb.execute("acme", jb.sign(jb.executeClaims("args-"+name, args...)))
			encoded, _ := json.Marshal(tt.data)
			viaAdditional := jb.execute("acme", jb.sign(jb.executeClaims("additional-"+name, in("passId", "p-1"), in("additionalData", string(encoded)))))
			for _, res := range []response{viaArgs, viaAdditional} {
				wantError(t, res, http.StatusBadRequest, "invalid_request")
				if !strings.Contains(string(res.body), tt.want) {
					t.Errorf("the refusal %s does not name the limit (%q)", res.body, tt.want)
				}
			}
		})
	}
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 1 {
		t.Errorf("%d updates scheduled, want only the one at the limits", n)
	}
}

// An update within the limits that would take the pass past 100 fields is refused when the pass takes it: the
// execute call was answered before the merge, so the refusal is logged and nothing is stored.
func TestExecute_anUpdateThatWouldTakeThePassPastTheFieldLimitChangesNothing(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "p-1", passBody(t, dataOf(99, "v")))
	jb := newJourneyBuilder(h)
	run := func(entry string, fields ...map[string]any) {
		t.Helper()
		wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims(entry, append([]map[string]any{in("passId", "p-1")}, fields...)...))), 1)
	}

	run("to-100", in("new-1", "x"))
	h.scheduledFor("to-100", 1)
	run("to-101", in("new-2", "x"))
	// Updates of one pass are taken in order: once the next one is stored, the one before it was handled.
	run("after", in("f0", "changed"))
	h.scheduledFor("after", 1)

	for _, e := range h.storedOfType("PassUpdateScheduled") {
		if e.payload["definitionInstanceId"] == "to-101" {
			t.Fatalf("the update past 100 fields was stored: %v", e.payload)
		}
	}
	var data map[string]any
	eventually(t, 5*time.Second, "the read model to show the last update", func() bool {
		data, _ = h.passView("acme", "p-1")["data"].(map[string]any)
		return data["f0"] == "changed"
	})
	if _, ok := data["new-2"]; ok || len(data) != 100 {
		t.Errorf("the pass has %d fields (new-2 present: %v), want 100 without new-2", len(data), ok)
	}
}
