package service_test

// Issue 15 §1 and §2: the "Wallet pass?" split's config.json and execute, through the real server, with a tenant
// that has both wallets set up (the test PKI's certificate, and Google settings on a fake of the Wallet API).

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/app/command"
	httpport "github.com/passpush/passpush/ports/http"
)

const passCheckRoute = "/webhooks/listeners/sfmc/actions/passcheck"

// passCheck is acme with Apple and Google Wallet set up and passes p-1 (ann), p-2 and p-3 (both bob's).
type passCheck struct {
	apple  *appleJourney
	h      *harness
	jb     *journeyBuilder
	google *googletest.Fake
	clock  *handClock
	key    any // the public half of the service account's key
}

func newPassCheck(t *testing.T) *passCheck {
	t.Helper()
	pki := appletest.NewPKI(t)
	apns := appletest.NewAPNs(t, pki)
	fake := googletest.New(t)
	clock := newHandClock()
	config := fastRetries(6)
	config.APNs.URL = apns.URL
	config.APNs.RootCAs = apns.RootCAs
	config.GoogleAPIURL = fake.URL
	config.PassCheck = command.CheckPassConfig{Now: clock.Now}
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	config.PublicURL = publicURL
	svc, handler := run(t, config, httpport.Config{AdminToken: adminToken, PublicURL: publicURL})
	srv.Config.Handler = handler
	srv.Start()
	t.Cleanup(srv.Close)
	h := &harness{t: t, svc: svc, url: srv.URL}

	h.addTenant("acme")
	h.putCertificate("acme", pki)
	if res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t)); res.status != http.StatusOK {
		t.Fatalf("PUT template: %d %s", res.status, res.body)
	}
	keyFile := fake.ServiceAccount(t, googleServiceAccount)
	settings := mustJSON(t, map[string]any{"issuerId": googleIssuer, "serviceAccount": json.RawMessage(keyFile)})
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", string(settings)); res.status != http.StatusOK {
		t.Fatalf("PUT google settings: %d %s", res.status, res.body)
	}
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google/classes/loyalty",
		`{"objectType":"loyalty","classId":"`+googleClassID+`","template":{"state":"ACTIVE","accountId":"{{customId}}"}}`); res.status != http.StatusOK {
		t.Fatalf("PUT google class: %d %s", res.status, res.body)
	}
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"1"}}`)
	h.putPass("acme", "p-3", `{"passType":"loyalty","email":"bob@example.com","customId":"c-3","data":{"points":"3"}}`)
	h.putPass("acme", "p-2", `{"passType":"loyalty","email":"bob@example.com","customId":"c-2","data":{"points":"2"}}`)
	jb := newJourneyBuilder(h)
	return &passCheck{apple: &appleJourney{h: h, jb: jb, pki: pki, apns: apns}, h: h, jb: jb, google: fake, clock: clock,
		key: publicKeyOf(t, keyFile)}
}

// check calls the split's execute for a contact entry with inArguments and returns its answer.
func (pc *passCheck) check(entry string, args ...map[string]any) response {
	pc.h.t.Helper()
	return postPassCheck(pc.h, "acme", "execute", "application/jwt", pc.jb.sign(pc.jb.executeClaims(entry, args...)))
}

// decision calls the split and wants 200, returning its answer's fields.
func (pc *passCheck) decision(entry string, args ...map[string]any) map[string]string {
	t := pc.h.t
	t.Helper()
	res := pc.check(entry, args...)
	if res.status != http.StatusOK {
		t.Fatalf("split execute: %d %s, want 200", res.status, res.body)
	}
	var out map[string]string
	if err := json.Unmarshal(res.body, &out); err != nil {
		t.Fatalf("split answer %s: %v", res.body, err)
	}
	if len(out) != 6 {
		t.Fatalf("split answer %s, want exactly branchResult, passId, appleInstalled, googleInstalled, appleLink, googleLink", res.body)
	}
	return out
}

func postPassCheck(h *harness, tenantID, route, contentType, body string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+"/api/"+tenantID+passCheckRoute+"/"+route, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return h.send(req)
}

// googleObjectOf verifies a save link with the service account's public key and returns its object's id.
func (pc *passCheck) googleObjectOf(link string) string {
	t := pc.h.t
	t.Helper()
	signed, ok := strings.CutPrefix(link, "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("google link %q", link)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return pc.key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(googleServiceAccount)); err != nil {
		t.Fatalf("the save link's JWT does not verify: %v", err)
	}
	payload, _ := claims["payload"].(map[string]any)
	objects, _ := payload["loyaltyObjects"].([]any)
	if len(objects) != 1 {
		t.Fatalf("payload %v, want one loyalty object", payload)
	}
	id, _ := objects[0].(map[string]any)["id"].(string)
	return id
}

// saveToGoogle stores the pass's object at the fake as a customer's save would, with hasUsers.
func (pc *passCheck) saveToGoogle(objectID string, hasUsers bool) {
	pc.google.PutObject("loyalty", objectID, map[string]any{"state": "ACTIVE", "hasUsers": hasUsers})
}

// decisions returns the PassCheckDecided events of the audit log.
func (pc *passCheck) decisions(n int) []auditEvent {
	pc.h.t.Helper()
	var events []auditEvent
	eventually(pc.h.t, 10*time.Second, "the split's decisions in the audit log", func() bool {
		events = pc.h.auditAll("acme", "type=PassCheckDecided", 100)
		return len(events) >= n
	})
	return events
}

func TestPassCheck_configJSONIsARestDecisionWithItsBranchesAndOutArguments(t *testing.T) {
	h := startWithTenant(t)
	h.putTenant("acme", `{"activity":{"key":"push-key","splitKey":"split-key","timeout":15000,"retryCount":2,"retryDelay":500,"concurrentRequests":7}}`)
	if v := h.admin(http.MethodGet, "/api/admin/tenants/acme", "").json(t); v["activity"].(map[string]any)["splitKey"] != "split-key" {
		t.Fatalf("tenant view %v, want activity.splitKey", v)
	}
	res := h.do(http.MethodGet, "/api/acme"+passCheckRoute+"/config.json", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET config.json: %d %s", res.status, res.body)
	}
	var c struct {
		Type      string `json:"type"`
		Key       string `json:"key"`
		Arguments struct {
			Execute struct {
				URL                string           `json:"url"`
				UseJWT             bool             `json:"useJwt"`
				Timeout            int              `json:"timeout"`
				RetryCount         int              `json:"retryCount"`
				RetryDelay         int              `json:"retryDelay"`
				ConcurrentRequests int              `json:"concurrentRequests"`
				InArguments        []map[string]any `json:"inArguments"`
				OutArguments       []map[string]any `json:"outArguments"`
			} `json:"execute"`
		} `json:"arguments"`
		ConfigurationArguments map[string]struct {
			URL    string `json:"url"`
			UseJWT bool   `json:"useJwt"`
		} `json:"configurationArguments"`
		Outcomes []struct {
			Key       string            `json:"key"`
			Arguments map[string]string `json:"arguments"`
			MetaData  map[string]string `json:"metaData"`
		} `json:"outcomes"`
		Schema struct {
			Arguments struct {
				Execute struct {
					OutArguments []map[string]struct {
						DataType string `json:"dataType"`
					} `json:"outArguments"`
				} `json:"execute"`
			} `json:"arguments"`
		} `json:"schema"`
	}
	if err := json.Unmarshal(res.body, &c); err != nil {
		t.Fatal(err)
	}
	e := c.Arguments.Execute
	if c.Type != "RESTDECISION" || c.Key != "split-key" || !strings.HasSuffix(e.URL, "/api/acme"+passCheckRoute+"/execute") || !e.UseJWT ||
		e.Timeout != 15000 || e.RetryCount != 2 || e.RetryDelay != 500 || e.ConcurrentRequests != 7 {
		t.Errorf("config.json %s: want RESTDECISION, the split key and the tenant's execute settings", res.body)
	}
	for _, stage := range []string{"save", "validate", "publish", "stop", "unpublish"} {
		if a := c.ConfigurationArguments[stage]; !strings.HasSuffix(a.URL, passCheckRoute+"/"+stage) || !a.UseJWT {
			t.Errorf("configurationArguments.%s = %+v", stage, a)
		}
	}
	labels := map[string]string{"installed": "Pass in a wallet", "not_installed": "Pass not in a wallet", "no_pass": "No pass"}
	if len(c.Outcomes) != len(labels) {
		t.Fatalf("outcomes %+v, want three", c.Outcomes)
	}
	for _, o := range c.Outcomes {
		if labels[o.Key] == "" || o.Arguments["branchResult"] != o.Key || o.MetaData["label"] != labels[o.Key] {
			t.Errorf("outcome %+v", o)
		}
	}
	var outs []string
	for _, o := range e.OutArguments {
		for k := range o {
			outs = append(outs, k)
		}
	}
	if strings.Join(outs, ",") != "passId,appleInstalled,googleInstalled,appleLink,googleLink" {
		t.Errorf("outArguments %v", outs)
	}
	for _, o := range c.Schema.Arguments.Execute.OutArguments {
		for k, s := range o {
			if s.DataType != "Text" {
				t.Errorf("schema of %s: %s, want Text (a string)", k, s.DataType)
			}
		}
	}
	// pushupdate's config.json keeps its own type and key.
	push := h.do(http.MethodGet, "/api/acme"+sfmcRoute+"/config.json", "", nil).json(t)
	if push["type"] != "REST" || push["key"] != "push-key" || push["outcomes"] != nil {
		t.Errorf("pushupdate's config.json: type %v key %v outcomes %v", push["type"], push["key"], push["outcomes"])
	}
}

func TestPassCheck_everyBranchWithItsLinksAndDecisions(t *testing.T) {
	pc := newPassCheck(t)
	h := pc.h

	// Nobody's pass: no_pass, with empty fields.
	if d := pc.decision("e-0", in("email", "nobody@example.com")); d["branchResult"] != "no_pass" || d["passId"] != "" ||
		d["appleInstalled"] != "" || d["googleInstalled"] != "" || d["appleLink"] != "" || d["googleLink"] != "" {
		t.Errorf("no pass: %v", d)
	}

	// Ann's p-1 is in no wallet: the Wallet API has no object (404).
	d := pc.decision("e-1", in("email", "ann@example.com"))
	if d["branchResult"] != "not_installed" || d["passId"] != "p-1" || d["appleInstalled"] != "false" || d["googleInstalled"] != "false" {
		t.Fatalf("ann before installing: %v", d)
	}
	// The links are fresh and valid: the Apple one downloads the signed pass, the Google one is signed with the
	// service account's key and carries p-1's object.
	if res := h.get(d["appleLink"]); res.status != http.StatusOK || res.header.Get("Content-Type") != "application/vnd.apple.pkpass" {
		t.Fatalf("GET the split's Apple link %s: %d %s", d["appleLink"], res.status, res.body)
	}
	p1Object := pc.googleObjectOf(d["googleLink"])
	if gets := pc.google.Requests(googletest.CallGet); len(gets) != 1 || gets[0].ObjectID != p1Object {
		t.Fatalf("the Wallet API's GETs %v, want one of %s", gets, p1Object)
	}

	// Ann adds p-1 to Apple Wallet: installed.
	device := pc.apple.install("dev-1", "token-1")
	device.register()
	pc.apple.devicesOfP1("dev-1=token-1")
	d = pc.decision("e-2", in("passId", "p-1"))
	if d["branchResult"] != "installed" || d["appleInstalled"] != "true" || d["googleInstalled"] != "false" || d["appleLink"] == "" {
		t.Errorf("ann after installing: %v", d)
	}
	// p-1's Google state is an answer of a moment ago: no second GET.
	if gets := pc.google.Requests(googletest.CallGet); len(gets) != 1 {
		t.Errorf("%d GETs, want the state of the first answer reused", len(gets))
	}

	// Bob has p-2 and p-3; only p-3 is saved to Google Wallet, with users. p-2 is reported, the first by id, and
	// the branch is installed because p-3 is.
	d = pc.decision("e-3", in("customId", "c-3"))
	pc.saveToGoogle(pc.googleObjectOf(d["googleLink"]), true)
	d = pc.decision("e-4", in("customId", "c-2"))
	pc.saveToGoogle(pc.googleObjectOf(d["googleLink"]), false)
	pc.clock.Advance(2 * time.Hour) // the states of e-3 and e-4 are stale: asked again
	d = pc.decision("e-5", in("email", "bob@example.com"))
	if d["branchResult"] != "installed" || d["passId"] != "p-2" || d["googleInstalled"] != "false" || d["appleInstalled"] != "false" {
		t.Errorf("bob: %v, want installed, reporting p-2 (not in a wallet: its object has no users)", d)
	}
	// p-3 alone is Google-installed.
	pc.clock.Advance(2 * time.Hour)
	if d = pc.decision("e-6", in("customId", "c-3")); d["branchResult"] != "installed" || d["googleInstalled"] != "true" {
		t.Errorf("p-3: %v", d)
	}

	// Each decision is in the audit log, with its branch, pass and journey.
	events := pc.decisions(7)
	var branches []string
	for _, e := range events {
		data := e.data(t)
		branches = append(branches, data["branch"].(string)+":"+e.PassID)
		if e.JourneyID != "journey-1" || data["passId"] != e.PassID {
			t.Errorf("decision %+v", e)
		}
	}
	want := "no_pass:,not_installed:p-1,installed:p-1,not_installed:p-3,not_installed:p-2,installed:p-2,installed:p-3"
	if strings.Join(branches, ",") != want {
		t.Errorf("decisions %v, want %s", branches, want)
	}
}

// A refresh that Google answers slowly never holds the split past a second: the last known state is used.
func TestPassCheck_aSlowGoogleRefreshFallsBackToTheLastStateWithinASecond(t *testing.T) {
	pc := newPassCheck(t)
	d := pc.decision("e-1", in("passId", "p-1"))
	pc.saveToGoogle(pc.googleObjectOf(d["googleLink"]), true)
	pc.clock.Advance(2 * time.Hour)
	if d = pc.decision("e-2", in("passId", "p-1")); d["googleInstalled"] != "true" || d["branchResult"] != "installed" {
		t.Fatalf("after saving: %v", d)
	}
	// The customer removes the pass, and Google becomes slow: the stale state is asked again, but past the
	// second the split answers with the state it knew.
	pc.saveToGoogle(pc.googleObjectOf(d["googleLink"]), false)
	pc.google.SetLatency(5 * time.Second)
	pc.clock.Advance(2 * time.Hour)
	gets := len(pc.google.Requests(""))
	start := time.Now()
	d = pc.decision("e-3", in("passId", "p-1"))
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("the split took %s, want the refresh cut at a second", elapsed)
	}
	if d["googleInstalled"] != "true" || d["branchResult"] != "installed" {
		t.Errorf("with Google slow: %v, want the last known state (installed)", d)
	}
	// Google fast again: the refresh sees the removal.
	pc.google.SetLatency(0)
	if d = pc.decision("e-4", in("passId", "p-1")); d["googleInstalled"] != "false" || d["branchResult"] != "not_installed" {
		t.Errorf("with Google fast again: %v, want not installed", d)
	}
	if n := len(pc.google.Requests("")); n <= gets {
		t.Errorf("no call to the Wallet API after the clock moved: %d before, %d after", gets, n)
	}
}

func TestPassCheck_errorsAreExecutes(t *testing.T) {
	h := startWithTenant(t)
	jb := newJourneyBuilder(h)
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com"}`)
	good := jb.sign(jb.executeClaims("e-1", in("passId", "p-1")))

	wantError(t, postPassCheck(h, "nobody", "execute", "application/jwt", good), http.StatusNotFound, "unknown_tenant")
	if res := postPassCheck(h, "acme", "execute", "application/jwt", jb.signedWithSecret("another-secret-of-16+", jb.executeClaims("e-1", in("passId", "p-1")))); res.status != http.StatusUnauthorized {
		t.Errorf("a JWT of another secret: %d %s, want 401", res.status, res.body)
	}
	if res := postPassCheck(h, "acme", "execute", "application/json", `{"inArguments":[{"passId":"p-1"}]}`); res.status != http.StatusBadRequest {
		t.Errorf("no JWT: %d %s, want 400", res.status, res.body)
	}
	if res := postPassCheck(h, "acme", "execute", "application/jwt", jb.sign(jb.executeClaims("e-1", in("points", "3")))); res.status != http.StatusBadRequest {
		t.Errorf("no identifier: %d %s, want 400", res.status, res.body)
	}
	if res := postPassCheck(h, "acme", "execute", "application/jwt", good); res.status != http.StatusOK ||
		res.json(t)["branchResult"] != "not_installed" {
		t.Errorf("a good call on a tenant without wallets: %d %s", res.status, res.body)
	}
	// The lifecycle routes are pushupdate's: a signed call is recorded, an unsigned one answered 200.
	for _, stage := range []string{"save", "validate", "publish", "stop", "unpublish"} {
		signed := jb.sign(jwt.MapClaims{"activityObjectID": "split-1", "interactionId": "journey-1", "interactionVersion": "1"})
		if res := postPassCheck(h, "acme", stage, "application/jwt", signed); res.status != http.StatusOK {
			t.Errorf("%s: %d %s", stage, res.status, res.body)
		}
	}
	if res := postPassCheck(h, "acme", "publish", "application/jwt", jb.signedWithSecret("another-secret-of-16+", jwt.MapClaims{"activityObjectID": "x"})); res.status != http.StatusUnauthorized {
		t.Errorf("publish with a JWT of another secret: %d, want 401", res.status)
	}
}
