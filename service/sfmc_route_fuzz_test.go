package service_test

// Garbage thrown at the real execute and lifecycle routes, on the real service and database: never a 5xx, never a
// panic (the server turns a panic into a 503, so that is caught too).
//
//	go test -run XXX -fuzz FuzzExecuteRoute ./service/

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/service"
)

// How a fuzzed body reaches the route.
const (
	asIs          = iota // the body is sent as it is
	signedClaims         // the body is the JWT's claims, signed with the tenant's secret
	signedInArgs         // the body is the inArguments of otherwise valid claims, signed
	wrappedClaims        // signedClaims, wrapped as {"jwt":…}
	bodyShapeCount
)

// signRaw signs claim bytes as they are, so garbage claims still verify.
func signRaw(claims []byte, secret string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func withInArguments(inArguments []byte) []byte {
	return []byte(`{"inArguments":` + string(inArguments) + `,"outArguments":[],"journeyId":"journey-fuzz","activityId":"activity-fuzz","definitionInstanceId":"entry-fuzz","activityInstanceId":"i","keyValue":"k","mode":0}`)
}

func routeBody(shape uint8, raw []byte) string {
	switch shape % bodyShapeCount {
	case signedClaims:
		return signRaw(raw, sfmcSecret)
	case signedInArgs:
		return signRaw(withInArguments(raw), sfmcSecret)
	case wrappedClaims:
		return `{"jwt":"` + signRaw(raw, sfmcSecret) + `"}`
	}
	return string(raw)
}

// garbageCases are bodies Journey Builder never sends, from an attacker, a proxy or a bug. p-1 exists.
var garbageCases = []struct {
	name  string
	shape uint8
	body  string
}{
	{"empty", asIs, ""},
	{"NUL bytes", asIs, "\x00\x00\x00"},
	{"invalid UTF-8", asIs, "\xff\xfe\xfd"},
	{"a JWT with invalid UTF-8 around", asIs, "\xff" + signRaw(withInArguments([]byte(`[{"passId":"p-1"}]`)), sfmcSecret)},
	{"deeply nested JSON", asIs, strings.Repeat("[", 100000)},
	{"deeply nested object", asIs, strings.Repeat(`{"jwt":`, 20000)},
	{"a wrapper holding an object", asIs, `{"jwt":{"alg":"none"}}`},
	{"base64 that is not JSON", asIs, "AAAA.AAAA.AAAA"},
	{"a header that is a JSON array", asIs, base64.RawURLEncoding.EncodeToString([]byte(`[]`)) + ".e30.AAAA"},
	{"claims that are not JSON", signedClaims, "not json"},
	{"claims that are a JSON array", signedClaims, `[{"passId":"p-1"}]`},
	{"claims that are null", signedClaims, `null`},
	{"claims with a huge exp", signedClaims, `{"exp":1e309,"inArguments":[{"passId":"p-1"}],"activityId":"a","definitionInstanceId":"e"}`},
	{"claims with exp as text", signedClaims, `{"exp":"tomorrow","inArguments":[{"passId":"p-1"}],"activityId":"a","definitionInstanceId":"e"}`},
	{"claims with the lowest exp", signedClaims, `{"exp":-9223372036854775808,"inArguments":[{"passId":"p-1"}],"activityId":"a","definitionInstanceId":"e"}`},
	{"claims with ids of the wrong type", signedClaims, `{"inArguments":[{"passId":"p-1"}],"activityId":{},"definitionInstanceId":[1]}`},
	{"inArguments that are an object", signedInArgs, `{"passId":"p-1"}`},
	{"inArguments that nest arrays", signedInArgs, `[[{"passId":"p-1"}]]`},
	{"inArguments with nulls", signedInArgs, `[null,{"passId":null},{"passId":"p-1"}]`},
	{"identifiers that are a string", signedInArgs, `[{"identifiers":"p-1"}]`},
	{"additionalData that is an array", signedInArgs, `[{"passId":"p-1"},{"additionalData":[1]}]`},
	{"additionalData as a string holding a string", signedInArgs, `[{"passId":"p-1"},{"additionalData":"\"x\""}]`},
	{"a passId that is not an id", signedInArgs, `[{"passId":"../../etc/passwd"}]`},
	{"a passId of 10,000 characters", signedInArgs, `[{"passId":"` + strings.Repeat("p", 10000) + `"}]`},
	{"an email of 100,000 characters", signedInArgs, `[{"email":"` + strings.Repeat("e", 100000) + `@x"}]`},
	{"a NUL in the email", signedInArgs, `[{"email":"ann\u0000@example.com"}]`},
	{"a NUL in the passId", signedInArgs, `[{"passId":"p-1\u0000"}]`},
	{"a NUL in the customId", signedInArgs, `[{"customId":"\u0000"}]`},
	{"a NUL in the passType", signedInArgs, `[{"passId":"p-1"},{"passType":"loyalty\u0000"}]`},
	{"a lone surrogate in the email", signedInArgs, `[{"email":"\ud800@example.com"}]`},
	{"a field name with a NUL", signedInArgs, `[{"passId":"p-1"},{"a\u0000b":"c"}]`},
	{"SQL in the email", signedInArgs, `[{"email":"' OR 1=1 --"}]`},
	{"a JWT in the jwt wrapper with a NUL", wrappedClaims, `{"inArguments":[{"passId":"p-1"}],"activityId":"a\u0000","definitionInstanceId":"e"}`},
}

// checkNever5xx fails on a 5xx or an answer that is not the API's shape.
func checkNever5xx(t *testing.T, route string, status int, body []byte) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s answered %d %s", route, status, body)
	}
	if status >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
			t.Fatalf("%s answered %d with %q, not an error body", route, status, body)
		}
	}
}

func TestExecute_garbageNeverAnswers5xx(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1"}`)
	for _, c := range garbageCases {
		t.Run(c.name, func(t *testing.T) {
			jb := newJourneyBuilder(h.forTest(t))
			body := routeBody(c.shape, []byte(c.body))
			for _, route := range []string{"execute", "save", "publish"} {
				res := jb.post("acme", route, "application/jwt", body)
				checkNever5xx(t, route, res.status, res.body)
			}
		})
	}
}

// FuzzExecuteRoute throws bodies at the execute and save routes of a running passpush.
func FuzzExecuteRoute(f *testing.F) {
	for _, c := range garbageCases {
		f.Add(c.shape, []byte(c.body))
	}
	for _, seed := range []string{
		`[{"passId":"p-1"},{"points":"5"},{"additionalData":"{\"offer\":\"x\"}"},{"message":"Hi %@"}]`,
		`[{"email":"ANN@example.com"},{"passType":"loyalty"}]`,
		`[{"identifiers":{"customId":"c-1"}}]`,
	} {
		f.Add(uint8(signedInArgs), []byte(seed))
	}
	svc, handler := runService(f, service.Config{})
	ctx := context.Background()
	if _, _, err := svc.App.Commands.SaveTenant.Handle(ctx, command.SaveTenant{
		TenantID: "acme", Mode: command.CreateOnly, Changes: tenant.Changes{SFMCSigningSecrets: []string{sfmcSecret}},
	}); err != nil {
		f.Fatal(err)
	}
	res, err := svc.App.Commands.RegisterPass.Handle(ctx, command.RegisterPass{TenantID: "acme", PassID: "p-1",
		Details: pass.Details{PassType: "loyalty", Email: "ann@example.com", CustomID: "c-1"}})
	if err != nil {
		f.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := svc.App.Queries.PassByID.Handle(wctx, query.PassByID{TenantID: "acme", PassID: "p-1", MinStreamVersion: res.StreamVersion}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, shape uint8, raw []byte) {
		body := routeBody(shape, raw)
		for _, route := range []string{"execute", "save"} {
			req := httptest.NewRequest(http.MethodPost, "/api/acme"+sfmcRoute+"/"+route, bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/jwt")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			checkNever5xx(t, fmt.Sprintf("%s (shape %d)", route, shape%bodyShapeCount), rec.Code, rec.Body.Bytes())
		}
	})
}

// A contact entry whose ids or fields a database cannot store as they are (a NUL, which PostgreSQL's text refuses;
// an id too long for one of its index entries) is either refused with a 4xx at execute or taken all the way:
// scheduled, delivered and listed in the audit log. A 200 that later loses the update, or its audit entry, in a
// projection is the bug this guards against.
func TestExecute_unstorableTextIsRefusedOrCarriedThrough(t *testing.T) {
	h := startWithTenant(t)
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	cases := []struct {
		name   string
		claims string
	}{
		{"journeyId", `{"inArguments":[{"passId":"p-1"}],"journeyId":"journey\u0000x","activityId":"a","definitionInstanceId":"e-1","keyValue":"k"}`},
		{"contact key", `{"inArguments":[{"passId":"p-1"}],"journeyId":"journey-2","activityId":"a","definitionInstanceId":"e-2","keyValue":"k\u0000"}`},
		{"field value", `{"inArguments":[{"passId":"p-1"},{"note":"a\u0000b"}],"journeyId":"journey-3","activityId":"a","definitionInstanceId":"e-3"}`},
		{"field name", `{"inArguments":[{"passId":"p-1"},{"additionalData":{"n\u0000":"v"}}],"journeyId":"journey-4","activityId":"a","definitionInstanceId":"e-4"}`},
		{"message", `{"inArguments":[{"passId":"p-1"},{"message":"hi\u0000"}],"journeyId":"journey-5","activityId":"a","definitionInstanceId":"e-5"}`},
		{"entry", `{"inArguments":[{"passId":"p-1"}],"journeyId":"journey-6","activityId":"a","definitionInstanceId":"e\u0000-6"}`},
		// Long ids that do not compress: an index entry of PostgreSQL holds at most about 2.7 kB.
		{"a journeyId of 8,000 random characters", `{"inArguments":[{"passId":"p-1"}],"journeyId":"` + randomText(8000) + `","activityId":"a","definitionInstanceId":"e-7"}`},
		{"an entry of 8,000 random characters", `{"inArguments":[{"passId":"p-1"}],"journeyId":"journey-8","activityId":"a","definitionInstanceId":"` + randomText(8000) + `"}`},
	}
	jb := newJourneyBuilder(h)
	accepted := 0
	for _, c := range cases {
		res := jb.execute("acme", signRaw([]byte(c.claims), sfmcSecret))
		checkNever5xx(t, c.name, res.status, res.body)
		if res.status == http.StatusOK {
			accepted++
		} else {
			t.Logf("%s: refused with %d %s", c.name, res.status, res.body)
		}
	}
	if accepted == 0 {
		return
	}
	eventually(t, 30*time.Second, fmt.Sprintf("%d deliveries", accepted), func() bool { return rcv.delivered() == accepted })
	h.settled(30 * time.Second)
	var listed []auditEvent
	defer func() {
		if t.Failed() {
			var got []string
			for _, e := range listed {
				got = append(got, e.Type+" journeyId="+fmt.Sprintf("%q", e.JourneyID))
			}
			t.Logf("the audit log lists %d events of p-1:\n%s", len(listed), strings.Join(got, "\n"))
		}
	}()
	poll(t, 30*time.Second, 50*time.Millisecond, "the audit log to list every accepted update and its outcome", func() bool {
		listed = h.auditAll("acme", "passId=p-1", 1000)
		return count(auditTypesOf(listed), "PassUpdateScheduled") == accepted && count(auditTypesOf(listed), "PushUpdateEmitted") == accepted
	})
}

// randomText is n hex digits that no compression shortens.
func randomText(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}
