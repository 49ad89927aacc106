package service_test

// Issue 3 §3: the lifecycle calls save, validate, publish, stop and unpublish.

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/eventstore"
)

var lifecycleEvents = map[string]string{
	"save": "ActivitySaved", "validate": "ActivityValidated", "publish": "ActivityPublished",
	"stop": "ActivityStopped", "unpublish": "ActivityUnpublished",
}

// lifecycleBody is what Journey Builder sends on a lifecycle call for one journey version.
func lifecycleBody(stage, journeyID string) map[string]any {
	body := map[string]any{
		"activityObjectID":     "object-" + journeyID,
		"interactionId":        journeyID,
		"originalDefinitionId": "definition-1",
		"interactionKey":       "key-" + journeyID,
		"interactionVersion":   "3",
	}
	if stage == "publish" {
		body["isPublished"] = true
	}
	return body
}

func TestLifecycle_eachSignedCallInEachShapeAnswersOKAndIsRecorded(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	shapes := []struct {
		name        string
		contentType string
		body        func(claims map[string]any) string
	}{
		{"raw-jwt", "application/jwt", func(c map[string]any) string { return jb.sign(jwt.MapClaims(c)) }},
		{"jwt-wrapper", "application/json", func(c map[string]any) string { return fmt.Sprintf(`{"jwt":%q}`, jb.sign(jwt.MapClaims(c))) }},
		{"token-wrapper", "application/json", func(c map[string]any) string {
			return fmt.Sprintf(" {\"token\":%q}\n", jb.sign(jwt.MapClaims(c)))
		}},
	}
	for stage, eventType := range lifecycleEvents {
		for _, shape := range shapes {
			journeyID := "journey-" + stage + "-" + shape.name
			res := jb.post("acme", stage, shape.contentType, shape.body(lifecycleBody(stage, journeyID)))
			if res.status != http.StatusOK || res.json(t)["status"] != "ok" {
				t.Fatalf("%s as %s: got %d %s, want 200 {\"status\":\"ok\"}", stage, shape.name, res.status, res.body)
			}
			var events []auditEvent
			eventually(t, 10*time.Second, eventType+" in the audit log", func() bool {
				events = h.auditAll("acme", "journeyId="+journeyID, 100)
				return len(events) > 0
			})
			if len(events) != 1 || events[0].Type != eventType {
				t.Fatalf("%s as %s recorded %v, want one %s", stage, shape.name, auditTypesOf(events), eventType)
			}
			data := events[0].data(t)
			if _, ok := data["signed"]; ok || data["interactionId"] != journeyID || data["activityObjectID"] != "object-"+journeyID ||
				data["originalDefinitionId"] != "definition-1" || data["interactionKey"] != "key-"+journeyID || data["interactionVersion"] != "3" {
				t.Errorf("%s as %s recorded %v", stage, shape.name, data)
			}
			if published, ok := data["isPublished"]; (stage == "publish") != ok || (ok && published != true) {
				t.Errorf("%s as %s: isPublished = %v (present %v)", stage, shape.name, published, ok)
			}
		}
	}
}

func TestLifecycle_publishRecordsIsPublishedAsSent(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	body := lifecycleBody("publish", "journey-draft")
	body["isPublished"] = false
	if res := jb.post("acme", "publish", "application/jwt", jb.sign(jwt.MapClaims(body))); res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	eventually(t, 10*time.Second, "ActivityPublished", func() bool {
		events := h.auditAll("acme", "journeyId=journey-draft&type=ActivityPublished", 100)
		return len(events) == 1 && events[0].data(t)["isPublished"] == false
	})
}

func TestLifecycle_aJWTThatDoesNotVerifyAnswers401AndGarbage400(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	for stage := range lifecycleEvents {
		claims := jwt.MapClaims(lifecycleBody(stage, "journey-x"))
		expired := jwt.MapClaims(lifecycleBody(stage, "journey-x"))
		expired["exp"] = time.Now().Add(-time.Hour).Unix()
		for name, body := range map[string]string{
			"wrong secret":         jb.signedWithSecret("not-the-secret", claims),
			"wrapped wrong secret": fmt.Sprintf(`{"jwt":%q}`, jb.signedWithSecret("not-the-secret", claims)),
			"alg none":             handMadeToken(t, map[string]any{"alg": "none"}, claims, ""),
			"expired":              jb.sign(expired),
		} {
			t.Run(stage+"/"+name, func(t *testing.T) {
				jb := newJourneyBuilder(h.forTest(t))
				wantError(t, jb.post("acme", stage, "application/jwt", body), http.StatusUnauthorized, "invalid_jwt")
			})
		}
		for name, body := range map[string]string{
			"garbage":         "hello",
			"empty":           "",
			"two segments":    "abc.def",
			"JSON array":      `[{"interactionId":"journey-x"}]`,
			"malformed JSON":  `{"interactionId":`,
			"jwt not a token": `{"jwt":"nope"}`,
		} {
			res := jb.post("acme", stage, "application/json", body)
			if res.status != http.StatusBadRequest || res.errorCode(t) != "invalid_request" {
				t.Errorf("%s %s: got %d %s, want 400 invalid_request", stage, name, res.status, res.body)
			}
		}
	}
	if res := jb.post("nobody", "save", "application/json", `{}`); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Errorf("unknown tenant: %d %s", res.status, res.body)
	}
	for _, e := range h.storedEvents() {
		for _, lifecycle := range lifecycleEvents {
			if e.Type == lifecycle {
				t.Fatalf("a refused call recorded %s", e.Type)
			}
		}
	}
}

// isLifecycleEvent reports whether a stored event records a lifecycle call.
func isLifecycleEvent(typ string) bool {
	for _, lifecycle := range lifecycleEvents {
		if typ == lifecycle {
			return true
		}
	}
	return false
}

// storedLifecycle returns the stored lifecycle events, read from the event store itself.
func (h *harness) storedLifecycle() []eventstore.Event {
	h.t.Helper()
	var out []eventstore.Event
	for _, e := range h.storedEvents() {
		if isLifecycleEvent(e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// Issue 13 §1: nothing unauthenticated is stored. Journey Builder may send a lifecycle call unsigned, and must get
// 200, but anyone can: a hostile page makes a browser POST {} as text/plain (no preflight) to every stage.
func TestLifecycle_unsignedCallsAnswerOKAndStoreNothing(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	for stage := range lifecycleEvents {
		for name, call := range map[string]struct{ contentType, body string }{
			"browser text/plain {}": {"text/plain;charset=UTF-8", `{}`},
			"plain JSON with ids":   {"application/json", string(mustJSON(t, lifecycleBody(stage, "journey-unsigned")))},
		} {
			res := jb.post("acme", stage, call.contentType, call.body)
			if res.status != http.StatusOK || res.json(t)["status"] != "ok" {
				t.Fatalf("%s %s: got %d %s, want 200 {\"status\":\"ok\"}", stage, name, res.status, res.body)
			}
		}
	}
	// A signed call after them is stored: the store was writable, and it is the only event.
	if res := jb.post("acme", "save", "application/jwt", jb.sign(jwt.MapClaims(lifecycleBody("save", "journey-signed")))); res.status != http.StatusOK {
		t.Fatalf("signed save: %d %s", res.status, res.body)
	}
	// On PostgreSQL the store shows an event once every older transaction has ended; the unsigned calls ended
	// before the signed one began, so once it shows, they would too.
	var events []eventstore.Event
	eventually(t, 10*time.Second, "the signed save in the event store", func() bool {
		events = h.storedLifecycle()
		return len(events) > 0
	})
	if len(events) != 1 || events[0].Type != "ActivitySaved" || !strings.Contains(string(events[0].Payload), "journey-signed") {
		t.Fatalf("the event store holds %d lifecycle events %v, want only the signed save", len(events), events)
	}
	for _, e := range h.storedEvents() {
		if strings.Contains(e.StreamID, "unidentified") || strings.Contains(string(e.Payload), "journey-unsigned") {
			t.Fatalf("an unsigned call was stored: %s %s", e.Type, e.Payload)
		}
	}
}

func TestLifecycle_aSignedCallWithoutIdsAnswersOKAndStoresNothing(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	for _, claims := range []jwt.MapClaims{{}, {"interactionVersion": "3", "interactionKey": "key"}} {
		if res := jb.post("acme", "validate", "application/jwt", jb.sign(claims)); res.status != http.StatusOK {
			t.Fatalf("signed validate without ids: %d %s", res.status, res.body)
		}
	}
	// A call with ids after them is stored; once it shows, anything they stored would show too.
	if res := jb.post("acme", "validate", "application/jwt", jb.sign(jwt.MapClaims(lifecycleBody("validate", "journey-marker")))); res.status != http.StatusOK {
		t.Fatalf("signed validate with ids: %d %s", res.status, res.body)
	}
	var events []eventstore.Event
	eventually(t, 10*time.Second, "the call with ids in the event store", func() bool {
		events = h.storedLifecycle()
		return len(events) > 0
	})
	if len(events) != 1 || !strings.Contains(string(events[0].Payload), "journey-marker") {
		t.Fatalf("calls without ids stored %d events: %v", len(events), events)
	}
}

// The same signed call is stored once per (stage, activityObjectID, interactionId, interactionVersion), whether it
// comes again later or eight times at once (each request on its own database connection, as on several
// instances: the event store's unique stream version decides).
func TestLifecycle_theSameSignedCallIsStoredOnce(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	save := jb.sign(jwt.MapClaims(lifecycleBody("save", "journey-dup")))
	for range 2 {
		if res := jb.post("acme", "save", "application/jwt", save); res.status != http.StatusOK {
			t.Fatalf("save: %d %s", res.status, res.body)
		}
	}
	publish := jb.sign(jwt.MapClaims(lifecycleBody("publish", "journey-dup")))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := postSFMC(http.DefaultClient, h.url, "acme", "publish", "application/jwt", publish)
			if err == nil && res.status != http.StatusOK {
				err = fmt.Errorf("publish: %d %s", res.status, res.body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another version of the journey, and another stage, are other calls.
	next := lifecycleBody("save", "journey-dup")
	next["interactionVersion"] = "4"
	for _, body := range []string{jb.sign(jwt.MapClaims(next)), jb.sign(jwt.MapClaims(lifecycleBody("validate", "journey-dup")))} {
		if res := jb.post("acme", "validate", "application/jwt", body); res.status != http.StatusOK {
			t.Fatalf("validate: %d %s", res.status, res.body)
		}
	}
	// The last call's event shows once every older transaction has ended (PostgreSQL), so every other call's
	// event shows by then too.
	count := map[string]int{}
	eventually(t, 10*time.Second, "the last call in the event store", func() bool {
		clear(count)
		last := false
		for _, e := range h.storedLifecycle() {
			count[e.Type]++
			last = last || (e.Type == "ActivityValidated" && strings.Contains(string(e.Payload), `"interactionVersion":"4"`))
		}
		// The v4 call is the first of the two validate calls, so the second's event is waited for too.
		return last && count["ActivityValidated"] >= 2
	})
	if want := map[string]int{"ActivitySaved": 1, "ActivityPublished": 1, "ActivityValidated": 2}; !reflect.DeepEqual(count, want) {
		t.Fatalf("stored %v, want %v", count, want)
	}
}
