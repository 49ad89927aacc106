package service_test

// Issue 12 §5 "Tests", end to end: Journey Builder's signed execute calls reach a pass's Google Wallet object
// through the real server and the real delivery stage, against a fake of Google's Wallet API and token endpoint.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/google/googletest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	httpport "github.com/passpush/passpush/ports/http"
)

const (
	googlePublicURL      = "https://passpush.example.com"
	googleServiceAccount = "passpush@passpush-test.iam.gserviceaccount.com"
	googleClassID        = googleIssuer + ".acme_loyalty"
)

// googleJourney is acme with its webhook, Google settings pointing at a fake of the Wallet API and a loyalty
// class, and passes p-1 and p-2: the customer saved p-1 to Google Wallet through its save link, never p-2.
type googleJourney struct {
	h        *harness
	jb       *journeyBuilder
	fake     *googletest.Fake
	rcv      *receiver
	key      *rsa.PublicKey // the public half of the service account's key
	saveLink string         // p-1's "Add to Google Wallet" link, as POST …/links answered it
}

func newGoogleJourney(t *testing.T) *googleJourney {
	t.Helper()
	return newGoogleJourneyAt(t, 0)
}

// newGoogleJourneyAt is newGoogleJourney with acme's Google rate, in requests a second; 0 takes the default.
func newGoogleJourneyAt(t *testing.T, rate float64) *googleJourney {
	t.Helper()
	fake := googletest.New(t)
	config := fastRetries(6)
	config.GoogleAPIURL = fake.URL
	config.PublicURL = googlePublicURL
	h := serve(t, config, httpport.Config{AdminToken: adminToken, PublicURL: googlePublicURL})
	rcv := newReceiver(t, webhookSecret)
	h.tenantWithWebhook("acme", rcv)

	keyFile := fake.ServiceAccount(t, googleServiceAccount)
	settings := mustJSON(t, map[string]any{"issuerId": googleIssuer, "serviceAccount": json.RawMessage(keyFile), "rate": rate})
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google", string(settings)); res.status != http.StatusOK {
		t.Fatalf("PUT google settings: %d %s", res.status, res.body)
	}
	template := `{"state":"ACTIVE","accountId":"{{customId}}","loyaltyPoints":{"label":"Points","balance":{"string":"{{points}}"}}}`
	if res := h.admin(http.MethodPut, "/api/admin/tenants/acme/google/classes/loyalty",
		`{"objectType":"loyalty","classId":"`+googleClassID+`","template":`+template+`}`); res.status != http.StatusOK {
		t.Fatalf("PUT google class: %d %s", res.status, res.body)
	}
	h.importPasses("acme", []command.RegisterPass{
		{PassID: "p-1", Details: pass.Details{PassType: "loyalty", CustomID: "c-1", Data: map[string]string{"points": "100"}}},
		{PassID: "p-2", Details: pass.Details{PassType: "loyalty", CustomID: "c-2", Data: map[string]string{"points": "5"}}},
	})

	g := &googleJourney{h: h, jb: newJourneyBuilder(h), fake: fake, rcv: rcv, key: publicKeyOf(t, keyFile)}
	res := h.admin(http.MethodPost, "/api/acme/passes/p-1/links", "")
	if res.status != http.StatusCreated {
		t.Fatalf("POST links of p-1: %d %s", res.status, res.body)
	}
	g.saveLink, _ = res.json(t)["google"].(string)
	// The customer saves the pass: Google stores the object the link carries.
	obj := g.savedObject(t)
	fake.PutObject("loyalty", obj["id"].(string), obj)
	return g
}

// publicKeyOf reads the public half of a key file's private key.
func publicKeyOf(t *testing.T, keyFile []byte) *rsa.PublicKey {
	t.Helper()
	var fields struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(keyFile, &fields); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(fields.PrivateKey))
	if block == nil {
		t.Fatal("the key file holds no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &key.(*rsa.PrivateKey).PublicKey
}

// savedObject verifies p-1's save link with the public half of the service account's key and returns the one
// object its payload carries.
func (g *googleJourney) savedObject(t *testing.T) map[string]any {
	t.Helper()
	signed, ok := strings.CutPrefix(g.saveLink, "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("google link %q", g.saveLink)
	}
	claims := jwt.MapClaims{}
	token, err := jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return g.key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(googleServiceAccount), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("the save link's JWT does not verify with the public half of the service account's key: %v", err)
	}
	if token.Header["alg"] != "RS256" || claims["typ"] != "savetowallet" {
		t.Fatalf("header %v claims %v", token.Header, claims)
	}
	if o, _ := claims["origins"].([]any); len(o) != 1 || o[0] != googlePublicURL {
		t.Errorf("origins %v, want [%s]", claims["origins"], googlePublicURL)
	}
	payload, _ := claims["payload"].(map[string]any)
	objects, _ := payload["loyaltyObjects"].([]any)
	if len(payload) != 1 || len(objects) != 1 {
		t.Fatalf("payload %v, want one loyalty object", payload)
	}
	obj, _ := objects[0].(map[string]any)
	return obj
}

// objectID is the Google object of a pass of acme.
func objectID(passID string) string { return googleIssuer + ".acme_" + passID }

// send executes one contact entry for a pass with a new points balance and a message.
func (g *googleJourney) send(passID, entry, points, message string) {
	g.h.t.Helper()
	args := []map[string]any{in("passId", passID), in("points", points)}
	if message != "" {
		args = append(args, in("message", message))
	}
	wantScheduled(g.h.t, g.jb.execute("acme", g.jb.sign(g.jb.executeClaims(entry, args...))), 1)
}

// channelResult returns one channel's result in an outcome.
func (o outcome) channelResult(t *testing.T, channel string) map[string]any {
	t.Helper()
	for _, c := range o.channels {
		if r, _ := c.(map[string]any); r["channel"] == channel {
			return r
		}
	}
	t.Fatalf("%s has no %s result: %v", o.typ, channel, o.channels)
	return nil
}

// requestsFor returns the fake's calls named call on one object.
func (g *googleJourney) requestsFor(call, id string) []googletest.Request {
	return slices.DeleteFunc(g.fake.Requests(call), func(r googletest.Request) bool { return r.ObjectID != id })
}

// balanceOf reads loyaltyPoints.balance.string of an object's JSON.
func balanceOf(obj map[string]any) any {
	points, _ := obj["loyaltyPoints"].(map[string]any)
	balance, _ := points["balance"].(map[string]any)
	return balance["string"]
}

func TestGoogleJourney_anExecutePatchesTheSavedObjectAndAddsItsMessageOnce(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	id := objectID("p-1")
	g.send("p-1", "entry-1", "150", "You have 150 points")
	o := g.h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s (%s), want PushUpdateEmitted", o.typ, o.reason)
	}
	google := o.channelResult(t, "google")
	if google["outcome"] != "delivered" || google["delivered"] != true || google["attempts"] != 1.0 {
		t.Errorf("google result %v, want delivered on attempt 1", google)
	}
	if pushed, _ := google["pushed"].([]any); len(pushed) != 1 || pushed[0] != id {
		t.Errorf("google pushed %v, want [%s]", google["pushed"], id)
	}
	if r := o.channelResult(t, "webhook"); r["outcome"] != "delivered" {
		t.Errorf("the webhook beside Google: %v", r)
	}

	patches := g.requestsFor(googletest.CallPatch, id)
	if len(patches) != 1 || patches[0].Status != http.StatusOK || patches[0].ObjectType != "loyalty" {
		t.Fatalf("patches of %s: %+v, want one answered 200", id, patches)
	}
	if got := balanceOf(patches[0].Body); got != "150" {
		t.Errorf("the PATCH carries balance %v, want the new 150: %v", got, patches[0].Body)
	}
	if patches[0].Body["classId"] != googleClassID || patches[0].Body["accountId"] != "c-1" {
		t.Errorf("the PATCH body %v lacks the class or the template's fields", patches[0].Body)
	}
	if got := balanceOf(g.fake.Object("loyalty", id)); got != "150" {
		t.Errorf("the object Google holds has balance %v after the patch", got)
	}
	adds := g.requestsFor(googletest.CallAddMessage, id)
	if len(adds) != 1 || adds[0].Status != http.StatusOK {
		t.Fatalf("addMessage calls: %+v, want one answered 200", adds)
	}
	if !adds[0].At.After(patches[0].At) && !adds[0].At.Equal(patches[0].At) {
		t.Errorf("the message was added before the object was patched")
	}
	msgs := g.fake.Messages("loyalty", id)
	if len(msgs) != 1 {
		t.Fatalf("the object shows %d messages, want 1: %v", len(msgs), msgs)
	}
	m := msgs[0]
	if m["id"] != o.eventID || m["messageType"] != "TEXT_AND_NOTIFY" || m["body"] != "You have 150 points" {
		t.Errorf("message %v, want id %s (the PassUpdateScheduled eventId), TEXT_AND_NOTIFY and the update's text", m, o.eventID)
	}
	if n := g.fake.TokenCalls(); n != 1 {
		t.Errorf("%d OAuth tokens fetched, want 1", n)
	}
	// p-2 was never saved, and no update was scheduled for it: Google heard nothing of it.
	if calls := g.requestsFor("", objectID("p-2")); len(calls) != 0 {
		t.Errorf("calls on p-2's object: %+v", calls)
	}
}

func TestGoogleJourney_theFourthMessageWithin24HoursDoesNotNotify(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	id := objectID("p-1")
	entries := []string{"entry-1", "entry-2", "entry-3", "entry-4"}
	var eventIDs []string
	for i, entry := range entries {
		// One after the other: a wallet gets only a pass's latest update, so queued together the earlier ones
		// would be superseded.
		g.send("p-1", entry, string(rune('1'+i))+"00", "Message "+entry)
		o := g.h.outcomeOf("p-1", entry)
		if o.typ != "PushUpdateEmitted" || o.channelResult(t, "google")["outcome"] != "delivered" {
			t.Fatalf("%s: %s %v (%s)", entry, o.typ, o.channels, o.reason)
		}
		eventIDs = append(eventIDs, o.eventID)
	}
	msgs := g.fake.Messages("loyalty", id)
	var types, ids []string
	for _, m := range msgs {
		typ, _ := m["messageType"].(string)
		mid, _ := m["id"].(string)
		types, ids = append(types, typ), append(ids, mid)
	}
	want := []string{"TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT"}
	if !slices.Equal(types, want) {
		t.Errorf("message types %v, want %v", types, want)
	}
	if !slices.Equal(ids, eventIDs) {
		t.Errorf("message ids %v, want the updates' eventIds %v", ids, eventIDs)
	}
	if n := len(g.requestsFor(googletest.CallAddMessage, id)); n != 4 {
		t.Errorf("%d addMessage calls, want 4", n)
	}
	if got := balanceOf(g.fake.Object("loyalty", id)); got != "400" {
		t.Errorf("the object's balance is %v after the last update, want 400", got)
	}
}

func TestGoogleJourney_aPassTheCustomerNeverSavedIsNotInstalledWithoutRetry(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	id := objectID("p-2")
	g.send("p-2", "entry-1", "50", "Welcome")
	o := g.h.outcomeOf("p-2", "entry-1")
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s (%s), want PushUpdateEmitted: not installed is no failure", o.typ, o.reason)
	}
	google := o.channelResult(t, "google")
	if google["outcome"] != "not_installed" || google["attempts"] != 1.0 {
		t.Errorf("google result %v, want not_installed after 1 attempt", google)
	}
	if r := o.channelResult(t, "webhook"); r["outcome"] != "delivered" {
		t.Errorf("the webhook beside Google: %v", r)
	}
	// Let any retry that was wrongly scheduled come due (the backoff is 10-40 ms).
	g.h.settled(10 * time.Second)
	time.Sleep(200 * time.Millisecond)
	patches := g.requestsFor(googletest.CallPatch, id)
	if len(patches) != 1 || patches[0].Status != http.StatusNotFound {
		t.Errorf("patches of the unsaved object: %+v, want one answered 404 and no retry", patches)
	}
	if adds := g.requestsFor(googletest.CallAddMessage, id); len(adds) != 0 {
		t.Errorf("a message was added to an object that does not exist: %+v", adds)
	}
	if g.fake.Object("loyalty", id) != nil {
		t.Errorf("the channel created the object the customer never saved")
	}
}

// TestGoogleJourney_updatesBeyondTheRateWaitForTheirTurns: updates that come faster than the tenant's Google rate
// go out on their turns, spread by the rate, each object patched once. (That a turn far away is held back
// without a push, behind the metrics' wrapper too, is TestTimedChannel_keepsTheChannelsRateLimit's: here a
// turn lost to a slow machine is legitimately pushed and retried.)
func TestGoogleJourney_updatesBeyondTheRateWaitForTheirTurns(t *testing.T) {
	t.Parallel()
	// 4 calls a second with bursts of 2 (a patch and its message): an update's turn every 500 ms.
	g := newGoogleJourneyAt(t, 4)
	passIDs := []string{"p-3", "p-4", "p-5", "p-6"}
	var passes []command.RegisterPass
	for _, id := range passIDs {
		passes = append(passes, command.RegisterPass{PassID: id, Details: pass.Details{PassType: "loyalty", CustomID: "c-" + id, Data: map[string]string{"points": "1"}}})
	}
	g.h.importPasses("acme", passes)
	for _, id := range passIDs {
		g.fake.PutObject("loyalty", objectID(id), map[string]any{"id": objectID(id), "classId": googleClassID, "state": "ACTIVE"})
	}
	for _, id := range passIDs {
		g.send(id, "entry-"+id, "200", "Your balance is 200")
	}
	for _, id := range passIDs {
		o := g.h.outcomeOf(id, "entry-"+id)
		if o.typ != "PushUpdateEmitted" {
			t.Fatalf("%s: %s (%s), want PushUpdateEmitted", id, o.typ, o.reason)
		}
		if r := o.channelResult(t, "google"); r["outcome"] != "delivered" {
			t.Errorf("%s: google result %v, want delivered", id, r)
		}
		patches := g.requestsFor(googletest.CallPatch, objectID(id))
		if len(patches) != 1 || patches[0].Status != http.StatusOK || balanceOf(patches[0].Body) != "200" {
			t.Errorf("%s: patches %+v, want one answered 200 with the new balance", id, patches)
		}
	}
	var at []time.Time
	for _, r := range g.fake.Requests(googletest.CallPatch) {
		at = append(at, r.At)
	}
	slices.SortFunc(at, time.Time.Compare)
	// Three of the four waited for their turns: the last patch came at least a second after the first.
	if len(at) != len(passIDs) || at[len(at)-1].Sub(at[0]) < time.Second {
		t.Errorf("patches at %v, want %d spread by the rate over more than a second", at, len(passIDs))
	}
	if v := scrapeMetrics(t, g.h.url).value(t, "passpush_delivery_outcomes_total", map[string]string{"channel": "google", "outcome": "delivered"}); v != float64(len(passIDs)) {
		t.Errorf("%v Google pushes counted as delivered, want %d", v, len(passIDs))
	}
}

func TestGoogleJourney_a500IsRetriedAndTheMessageIsShownOnce(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	id := objectID("p-1")
	// The first patch fails; then the message is added but its answer is lost in a 500.
	g.fake.Fail(googletest.CallPatch, http.StatusInternalServerError, 1)
	g.fake.FailAfterApplying(googletest.CallAddMessage, http.StatusInternalServerError, 1)
	g.send("p-1", "entry-1", "175", "Double points weekend")
	o := g.h.outcomeOf("p-1", "entry-1")
	if o.typ != "PushUpdateEmitted" {
		t.Fatalf("%s (%s), want PushUpdateEmitted after the retries", o.typ, o.reason)
	}
	google := o.channelResult(t, "google")
	if google["outcome"] != "delivered" || google["attempts"] != 3.0 {
		t.Errorf("google result %v, want delivered on attempt 3", google)
	}
	// The webhook took the update on the first attempt and was not called again.
	if r := o.channelResult(t, "webhook"); r["outcome"] != "delivered" || r["attempts"] != 1.0 {
		t.Errorf("webhook result %v, want delivered on attempt 1", r)
	}

	var patchStatuses, addStatuses []int
	for _, r := range g.requestsFor(googletest.CallPatch, id) {
		patchStatuses = append(patchStatuses, r.Status)
	}
	adds := g.requestsFor(googletest.CallAddMessage, id)
	for _, r := range adds {
		addStatuses = append(addStatuses, r.Status)
		if m, _ := r.Body["message"].(map[string]any); m["id"] != o.eventID {
			t.Errorf("an addMessage retry carries id %v, want the update's eventId %s", m["id"], o.eventID)
		}
	}
	if want := []int{500, 200, 200}; !slices.Equal(patchStatuses, want) {
		t.Errorf("patch answers %v, want %v", patchStatuses, want)
	}
	if want := []int{500, 409}; !slices.Equal(addStatuses, want) {
		t.Errorf("addMessage answers %v, want %v (the retry finds the message already there)", addStatuses, want)
	}
	msgs := g.fake.Messages("loyalty", id)
	if len(msgs) != 1 || msgs[0]["id"] != o.eventID || msgs[0]["messageType"] != "TEXT_AND_NOTIFY" {
		t.Errorf("the object shows %v, want the message once, notifying", msgs)
	}
	if got := balanceOf(g.fake.Object("loyalty", id)); got != "175" {
		t.Errorf("balance %v after the retried patch, want 175", got)
	}
}

func TestGoogleJourney_theSaveLinkCarriesTheObjectSignedByTheServiceAccount(t *testing.T) {
	t.Parallel()
	g := newGoogleJourney(t)
	obj := g.savedObject(t)
	if obj["id"] != objectID("p-1") || obj["classId"] != googleClassID || obj["accountId"] != "c-1" ||
		obj["state"] != "ACTIVE" || balanceOf(obj) != "100" {
		t.Errorf("the link's object %v, want p-1's id, the class and the pass's data", obj)
	}
	// A link signed with another key does not verify with the service account's.
	other := publicKeyOf(t, g.fake.ServiceAccount(t, "other@passpush-test.iam.gserviceaccount.com"))
	signed := strings.TrimPrefix(g.saveLink, "https://pay.google.com/gp/v/save/")
	if _, err := jwt.Parse(signed, func(*jwt.Token) (any, error) { return other, nil }); err == nil {
		t.Error("the save link's JWT verifies with an unrelated key")
	}
	// The object the channel patches is the one the link saved: an update changes only what the data changed.
	g.send("p-1", "entry-1", "120", "")
	if o := g.h.outcomeOf("p-1", "entry-1"); o.channelResult(t, "google")["outcome"] != "delivered" {
		t.Fatalf("google result %v", o.channels)
	}
	patches := g.requestsFor(googletest.CallPatch, objectID("p-1"))
	if len(patches) != 1 {
		t.Fatalf("patches %+v", patches)
	}
	for k, v := range obj {
		if k == "loyaltyPoints" {
			continue
		}
		if got, _ := json.Marshal(patches[0].Body[k]); string(got) != string(mustJSON(t, v)) {
			t.Errorf("the patch's %s is %s, the saved object's %s", k, got, mustJSON(t, v))
		}
	}
	if adds := g.requestsFor(googletest.CallAddMessage, objectID("p-1")); len(adds) != 0 {
		t.Errorf("an update without a message added one: %+v", adds)
	}
}
