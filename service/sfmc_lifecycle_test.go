package service_test

// Issue 3 §3: the lifecycle calls save, validate, publish, stop and unpublish.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

func TestLifecycle_eachCallInEachShapeAnswersOKAndIsRecorded(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	shapes := []struct {
		name        string
		signed      bool
		contentType string
		body        func(claims map[string]any) string
	}{
		{"raw-jwt", true, "application/jwt", func(c map[string]any) string { return jb.sign(jwt.MapClaims(c)) }},
		{"jwt-wrapper", true, "application/json", func(c map[string]any) string { return fmt.Sprintf(`{"jwt":%q}`, jb.sign(jwt.MapClaims(c))) }},
		{"token-wrapper", true, "application/json", func(c map[string]any) string {
			return fmt.Sprintf(" {\"token\":%q}\n", jb.sign(jwt.MapClaims(c)))
		}},
		{"plain-json", false, "application/json", func(c map[string]any) string { return string(mustJSON(t, c)) }},
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
			if data["signed"] != shape.signed || data["interactionId"] != journeyID || data["activityObjectID"] != "object-"+journeyID ||
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
	if res := jb.post("acme", "publish", "application/json", string(mustJSON(t, body))); res.status != http.StatusOK {
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
