package service_test

// Issue 3 §1: how execute authenticates Journey Builder and answers each error of the table.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/messaging"
)

// executeFixture is acme with one pass, p-1 (ann@example.com), and a Journey Builder that signs for it.
func executeFixture(t *testing.T) (*harness, *journeyBuilder) {
	t.Helper()
	h := startWithTenant(t)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"10"}}`)
	return h, newJourneyBuilder(h)
}

func TestExecute_refusesTokensThatDoNotVerifyWith401(t *testing.T) {
	h, jb := executeFixture(t)
	claims := func() jwt.MapClaims { return jb.executeClaims("entry-1", in("passId", "p-1")) }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := jb.sign(claims())
	parts := strings.Split(valid, ".")
	tampered := handMadeToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, jb.executeClaims("entry-1", in("passId", "p-1"), in("points", "1000000")), "")
	tampered = strings.TrimSuffix(tampered, ".") + "." + parts[2] // the new claims under the old signature
	now := time.Now()
	withTime := func(key string, at time.Time) jwt.MapClaims {
		c := claims()
		c[key] = at.Unix()
		return c
	}

	cases := []struct{ name, token string }{
		{"bad signature", parts[0] + "." + parts[1] + "." + hmacSignature("sfmc-secret", "something else")},
		{"claims changed under the signature", tampered},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"wrong secret", jb.signedWithSecret("not-the-secret", claims())},
		{"secret as a prefix", jb.signedWithSecret(sfmcSecret[:4], claims())},
		{"alg none, unsigned", handMadeToken(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(), "")},
		{"alg none, with an HMAC signature", handMadeToken(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(), sfmcSecret)},
		{"alg None spelled differently", handMadeToken(t, map[string]any{"alg": "NONE"}, claims(), "")},
		{"no alg", handMadeToken(t, map[string]any{"typ": "JWT"}, claims(), sfmcSecret)},
		{"unknown alg", handMadeToken(t, map[string]any{"alg": "HS999"}, claims(), sfmcSecret)},
		{"RS256 signed with a generated key", jb.signWith(jwt.SigningMethodRS256, rsaKey, claims())},
		{"ES256 signed with a generated key", jb.signWith(jwt.SigningMethodES256, ecKey, claims())},
		{"RS256 header over an HMAC of the secret (key confusion)", handMadeToken(t, map[string]any{"alg": "RS256"}, claims(), sfmcSecret)},
		{"HS512 with the right secret (the algorithm is pinned)", jb.signWith(jwt.SigningMethodHS512, []byte(sfmcSecret), claims())},
		{"HS384 with the right secret", jb.signWith(jwt.SigningMethodHS384, []byte(sfmcSecret), claims())},
		{"expired exp", jb.sign(withTime("exp", now.Add(-time.Minute)))},
		{"iat in the future", jb.sign(withTime("iat", now.Add(time.Hour)))},
		{"nbf in the future", jb.sign(withTime("nbf", now.Add(time.Hour)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jb := newJourneyBuilder(h.forTest(t))
			for _, body := range []string{c.token, fmt.Sprintf(`{"jwt":%q}`, c.token)} {
				wantError(t, jb.execute("acme", body), http.StatusUnauthorized, "invalid_jwt")
			}
		})
	}
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 0 {
		t.Fatalf("%d updates were scheduled by tokens that do not verify", n)
	}
}

func TestExecute_honoursTimeClaimsOnlyWhenPresent(t *testing.T) {
	_, jb := executeFixture(t)
	now := time.Now()
	for i, extra := range []map[string]any{
		{},
		{"exp": now.Add(time.Hour).Unix()},
		{"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Minute).Unix()},
	} {
		c := jb.executeClaims(fmt.Sprintf("entry-%d", i), in("passId", "p-1"))
		for k, v := range extra {
			c[k] = v
		}
		wantScheduled(t, jb.execute("acme", jb.sign(c)), 1)
	}
}

func TestExecute_refusesBodiesThatAreNotAJWTWith400(t *testing.T) {
	h, jb := executeFixture(t)
	sign := func(args ...map[string]any) string { return jb.sign(jb.executeClaims("entry-1", args...)) }
	cases := []struct{ name, body string }{
		{"empty body", ""},
		{"whitespace", "  \n\t "},
		{"garbage", "hello, Journey Builder"},
		{"binary garbage", "\x00\x01\x02\xff\xfe"},
		{"two segments", "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ"},
		{"four segments", sign(in("passId", "p-1")) + ".eyJhIjoxfQ"},
		{"three segments that are not base64url JSON", "abc.def.ghi"},
		{"dots only", ".."},
		{"JSON object without a jwt", `{"inArguments":[{"passId":"p-1"}],"activityId":"a","definitionInstanceId":"e"}`},
		{"empty JSON object", `{}`},
		{"JSON array", `[1,2,3]`},
		{"JSON null", `null`},
		{"jwt is not a string", `{"jwt":42}`},
		{"jwt is not a JWT", `{"jwt":"not a token"}`},
		{"token holds two segments", `{"token":"abc.def"}`},
		{"malformed JSON", `{"jwt":`},
		{"no identifier in inArguments", sign(in("points", "5"))},
		{"empty identifiers", sign(in("passId", ""), in("customId", ""), in("email", ""))},
		{"no inArguments at all", sign()},
		{"identifiers that are not an object", sign(in("identifiers", "p-1"))},
		{"additionalData is a number", sign(in("passId", "p-1"), in("additionalData", 42))},
		{"additionalData is an array", sign(in("passId", "p-1"), in("additionalData", []any{"a"}))},
		{"additionalData is a string that is not JSON", sign(in("passId", "p-1"), in("additionalData", "points=5"))},
		{"additionalData is a string holding a JSON array", sign(in("passId", "p-1"), in("additionalData", `["a"]`))},
		{"additionalData is a string holding a number", sign(in("passId", "p-1"), in("additionalData", `42`))},
		{"additionalData has a nested object", sign(in("passId", "p-1"), in("additionalData", map[string]any{"a": map[string]any{"b": 1}}))},
		{"additionalData has an empty field name", sign(in("passId", "p-1"), in("additionalData", map[string]any{" ": "x"}))},
		{"message over 1000 characters", sign(in("passId", "p-1"), in("message", strings.Repeat("m", 1001)))},
		{"inArguments is not an array", jb.sign(jwt.MapClaims{"inArguments": "passId=p-1", "activityId": "a", "definitionInstanceId": "e"})},
		{"no definitionInstanceId", jb.sign(jwt.MapClaims{"inArguments": []any{in("passId", "p-1")}, "activityId": "a"})},
		{"no activityId", jb.sign(jwt.MapClaims{"inArguments": []any{in("passId", "p-1")}, "definitionInstanceId": "e"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jb := newJourneyBuilder(h.forTest(t))
			wantError(t, jb.execute("acme", c.body), http.StatusBadRequest, "invalid_request")
		})
	}
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 0 {
		t.Fatalf("%d updates were scheduled by bad requests", n)
	}
}

func TestExecute_acceptsTheJWTRawWrappedAndPadded(t *testing.T) {
	h, _ := executeFixture(t)
	for i, wrap := range []struct {
		name        string
		contentType string
		body        func(token string) string
	}{
		{"raw", "application/jwt", func(tok string) string { return tok }},
		{"raw with whitespace around", "application/jwt", func(tok string) string { return " \r\n\t" + tok + "\n\n " }},
		{"jwt wrapper", "application/json", func(tok string) string { return fmt.Sprintf(`{"jwt":%q}`, tok) }},
		{"token wrapper", "application/json", func(tok string) string { return fmt.Sprintf(`{"token":%q}`, tok) }},
		{"wrapper with whitespace around", "application/json", func(tok string) string { return fmt.Sprintf("\n  { \"jwt\" : %q }\n", tok) }},
	} {
		t.Run(wrap.name, func(t *testing.T) {
			jb := newJourneyBuilder(h.forTest(t))
			token := jb.sign(jb.executeClaims(fmt.Sprintf("entry-%d", i), in("passId", "p-1")))
			wantScheduled(t, jb.post("acme", "execute", wrap.contentType, wrap.body(token)), 1)
		})
	}
}

func TestExecute_verifiesWithAnyOfTheTenantsSecretsDuringRotation(t *testing.T) {
	h, jb := executeFixture(t)
	h.putTenant("acme", `{"sfmcSigningSecrets":["old-sfmc-secret-of-acme","new-sfmc-secret-of-acme"]}`)
	wantScheduled(t, jb.execute("acme", jb.signedWithSecret("new-sfmc-secret-of-acme", jb.executeClaims("entry-new", in("passId", "p-1")))), 1)
	wantScheduled(t, jb.execute("acme", jb.signedWithSecret("old-sfmc-secret-of-acme", jb.executeClaims("entry-old", in("passId", "p-1")))), 1)
	wantError(t, jb.execute("acme", jb.sign(jb.executeClaims("entry-retired", in("passId", "p-1")))), http.StatusUnauthorized, "invalid_jwt")
	expired := jb.executeClaims("entry-expired", in("passId", "p-1"))
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	wantError(t, jb.execute("acme", jb.signedWithSecret("new-sfmc-secret-of-acme", expired)), http.StatusUnauthorized, "invalid_jwt")
}

func TestExecute_unknownOrDisabledTenantAnswers404(t *testing.T) {
	h, jb := executeFixture(t)
	h.addTenant("sleepy")
	h.putTenant("sleepy", `{"disabled":true}`)
	token := jb.sign(jb.executeClaims("entry-1", in("passId", "p-1")))
	for _, tenantID := range []string{"nobody", "sleepy", "bad%20id", "admin"} {
		res := jb.execute(tenantID, token)
		if tenantID == "admin" {
			// "admin" is reserved for the management routes: whatever answers, it is not a schedule.
			if res.status == http.StatusOK || res.status >= 500 {
				t.Fatalf("tenant admin: got %d %s", res.status, res.body)
			}
			continue
		}
		wantError(t, res, http.StatusNotFound, "unknown_tenant")
	}
}

func TestExecute_noMatchingPassAnswers404(t *testing.T) {
	_, jb := executeFixture(t)
	for name, args := range map[string][]map[string]any{
		"unknown email":            {in("email", "bob@example.com")},
		"unknown passId":           {in("passId", "p-404")},
		"unknown customId":         {in("customId", "c-404")},
		"passType narrows to none": {in("email", "ann@example.com"), in("passType", "coupon")},
		// passId is the most specific identifier: it decides even when the email would match.
		"unknown passId beside a known email": {in("passId", "p-404"), in("email", "ann@example.com")},
	} {
		wantError(t, jb.execute("acme", jb.sign(jb.executeClaims("entry-"+name, args...))), http.StatusNotFound, "no_matching_passes")
	}
}

func TestExecute_bodyOver256KiBAnswers413(t *testing.T) {
	h, jb := executeFixture(t)
	token := jb.sign(jb.executeClaims("entry-1", in("passId", "p-1")))
	const limit = 256 << 10
	padded := token + strings.Repeat(" ", limit-len(token))
	// Exactly at the limit is still a request.
	wantScheduled(t, jb.execute("acme", padded), 1)

	over := token + strings.Repeat(" ", limit-len(token)+1)
	wantError(t, jb.execute("acme", over), http.StatusRequestEntityTooLarge, "body_too_large")
	big := jb.sign(jb.executeClaims("entry-2", in("passId", "p-1"), in("additionalData", map[string]any{"blob": strings.Repeat("x", limit)})))
	wantError(t, jb.execute("acme", big), http.StatusRequestEntityTooLarge, "body_too_large")

	// Without a Content-Length the limit holds while reading.
	req, err := http.NewRequest(http.MethodPost, h.url+"/api/acme"+sfmcRoute+"/execute", strings.NewReader(over))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the limit: got %d, want 413", res.StatusCode)
	}
	for _, stage := range []string{"save", "publish"} {
		if res := jb.post("acme", stage, "application/json", `{"interactionId":"`+strings.Repeat("x", limit)+`"}`); res.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s over the limit: got %d %s", stage, res.status, res.body)
		}
	}
}

func TestExecute_answers503WhenTheCommandsCannotBeStored(t *testing.T) {
	h, jb := executeFixture(t)
	ctx := context.Background()
	// Break only the command topic: the tenant and the pass are still read, the commands cannot be written.
	block, unblock := commandStoreOutage(h)
	for _, stmt := range block {
		if _, err := h.svc.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	token := jb.sign(jb.executeClaims("entry-1", in("passId", "p-1")))
	res := jb.execute("acme", token)
	wantError(t, res, http.StatusServiceUnavailable, "store_unavailable")
	if res.header.Get("Retry-After") == "" {
		t.Errorf("a 503 should say when to retry")
	}
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 0 {
		t.Fatalf("a 503 scheduled %d updates", n)
	}

	// Journey Builder retries the 503; once the store is back the same call schedules the update, once.
	for _, stmt := range unblock {
		if _, err := h.svc.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	wantScheduled(t, jb.execute("acme", token), 1)
	wantScheduled(t, jb.execute("acme", token), 1)
	eventually(t, 10*time.Second, "the update", func() bool { return h.passView("acme", "p-1")["version"] == 2.0 })
	h.settled(10 * time.Second)
	if n := len(h.storedOfType("PassUpdateScheduled")); n != 1 {
		t.Fatalf("%d updates scheduled, want 1", n)
	}
}

// commandStoreOutage returns SQL that makes every insert into the command topics fail, and SQL that undoes it,
// for the back end under test.
func commandStoreOutage(h *harness) (block, unblock []string) {
	postgres := h.svc.DB.Dialect.Name == "postgres"
	if postgres {
		block = append(block, `CREATE FUNCTION passpush_test_outage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'command store is down'; END $$`)
	}
	for i := range messaging.CommandPartitions {
		table := "watermill_" + messaging.CommandTopic(i)
		trigger := fmt.Sprintf("passpush_test_outage_%d", i)
		if postgres {
			block = append(block, `CREATE TRIGGER `+trigger+` BEFORE INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION passpush_test_outage()`)
			unblock = append(unblock, `DROP TRIGGER `+trigger+` ON `+table)
		} else {
			block = append(block, `CREATE TRIGGER `+trigger+` BEFORE INSERT ON `+table+` BEGIN SELECT RAISE(ABORT, 'command store is down'); END`)
			unblock = append(unblock, `DROP TRIGGER `+trigger)
		}
	}
	if postgres {
		unblock = append(unblock, `DROP FUNCTION passpush_test_outage()`)
	}
	return block, unblock
}

func TestExecute_answers503WhenTheDatabaseIsGone(t *testing.T) {
	h, jb := executeFixture(t)
	token := jb.sign(jb.executeClaims("entry-1", in("passId", "p-1")))
	if err := h.svc.DB.Close(); err != nil {
		t.Fatal(err)
	}
	wantError(t, jb.execute("acme", token), http.StatusServiceUnavailable, "store_unavailable")
}

func TestExecute_resendSchedulesOneUpdate(t *testing.T) {
	h := startWithTenant(t)
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	jb := newJourneyBuilder(h)
	token := jb.sign(jb.executeClaims("entry-1", in("passId", "p-1"), in("points", "20")))
	for range 3 {
		wantScheduled(t, jb.execute("acme", token), 1)
	}
	eventually(t, 15*time.Second, "the delivery", func() bool { return rcv.delivered() == 1 })
	// A resend long after, once the update is delivered, still gets the same 200 and changes nothing.
	wantScheduled(t, jb.execute("acme", fmt.Sprintf(`{"jwt":%q}`, token)), 1)
	// The same entry at another activity of the journey is another update.
	jb.activityID = "activity-2"
	wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims("entry-1", in("passId", "p-1"), in("points", "30")))), 1)
	eventually(t, 15*time.Second, "the second activity's delivery", func() bool { return rcv.delivered() == 2 })
	h.settled(15 * time.Second)

	if n := len(h.storedOfType("PassUpdateScheduled")); n != 2 {
		t.Fatalf("%d updates scheduled, want one per activity", n)
	}
	if n := len(h.storedOfType("PushUpdateEmitted")); n != 2 {
		t.Fatalf("%d updates emitted, want 2", n)
	}
	rcv.mu.Lock()
	versions := rcv.perPass["p-1"]
	rcv.mu.Unlock()
	if fmt.Sprint(versions) != "[2 3]" {
		t.Fatalf("the webhook saw versions %v, want [2 3]", versions)
	}
	eventually(t, 10*time.Second, "the read model", func() bool { return h.passView("acme", "p-1")["version"] == 3.0 })
}
