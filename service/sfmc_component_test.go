package service_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/adapters/webhook"
	httpport "github.com/passpush/passpush/ports/http"
)

const sfmcSecret = "sfmc-secret"

// journeyBuilder plays SFMC Journey Builder: it signs execute calls with the installed package's secret.
type journeyBuilder struct {
	h          *harness
	secret     string
	journeyID  string
	activityID string
}

func newJourneyBuilder(h *harness) *journeyBuilder {
	return &journeyBuilder{h: h, secret: sfmcSecret, journeyID: "journey-1", activityID: "activity-1"}
}

func (jb *journeyBuilder) sign(claims jwt.MapClaims) string {
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jb.secret))
	if err != nil {
		jb.h.t.Fatal(err)
	}
	return token
}

// executeClaims are what Journey Builder puts in an execute JWT for one contact entry.
func (jb *journeyBuilder) executeClaims(entry string, inArguments ...map[string]any) jwt.MapClaims {
	return jwt.MapClaims{
		"inArguments":          inArguments,
		"outArguments":         []any{},
		"activityObjectID":     "object-1",
		"journeyId":            jb.journeyID,
		"activityId":           jb.activityID,
		"definitionInstanceId": entry,
		"activityInstanceId":   "instance-1",
		"keyValue":             "contact-" + entry,
		"mode":                 0,
	}
}

func (jb *journeyBuilder) execute(tenantID, body string) response {
	jb.h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, jb.h.url+"/api/"+tenantID+"/webhooks/listeners/sfmc/actions/pushupdate/execute", strings.NewReader(body))
	if err != nil {
		jb.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/jwt")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		jb.h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// receiver is a tenant's webhook: it checks signatures and records deliveries per event and their order per pass.
type receiver struct {
	t      *testing.T
	secret string
	delay  time.Duration
	// fail answers this status to the first failures[eventId] calls of an event.
	failStatus int
	failTimes  int
	// behave, when set, decides a validly signed call's answer: a status (0 means 204, unless failTimes applies)
	// and how long to take before answering. call counts the calls of this event, from 1. Set it with configure.
	behave func(msg map[string]any, call int) (status int, delay time.Duration)
	// hold, when set, keeps every call waiting until it is closed.
	hold <-chan struct{}

	mu          sync.Mutex
	calls       map[string]int
	ok          map[string]int   // 2xx answers per eventId
	perPass     map[string][]int // versions in arrival order
	bad         []string
	lastByPass  map[string]map[string]any
	inFlight    int
	maxInFlight int
	server      *httptest.Server
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, calls: map[string]int{}, ok: map[string]int{}, perPass: map[string][]int{}, lastByPass: map[string]map[string]any{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.server.Close)
	return r
}

// configure changes the receiver's behaviour under its lock, so a change races with no call in flight.
func (r *receiver) configure(change func(r *receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(r)
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(r.secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var msg map[string]any
	err := json.Unmarshal(body, &msg)
	r.mu.Lock()
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	defer func() {
		r.inFlight--
		r.mu.Unlock()
	}()
	if req.Header.Get(webhook.SignatureHeader) != want || err != nil {
		r.bad = append(r.bad, string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id, _ := msg["eventId"].(string)
	r.calls[id]++
	if r.calls[id] <= r.failTimes {
		w.WriteHeader(r.failStatus)
		return
	}
	status, delay := 0, r.delay
	if r.behave != nil {
		var d time.Duration
		status, d = r.behave(msg, r.calls[id])
		delay += d
	}
	if hold := r.hold; delay > 0 || hold != nil {
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-req.Context().Done():
		}
		timer.Stop()
		r.mu.Lock()
		if req.Context().Err() != nil {
			// The caller gave up (its timeout): this call delivered nothing.
			return
		}
	}
	if status != 0 && (status < 200 || status > 299) {
		w.WriteHeader(status)
		return
	}
	passID, _ := msg["passId"].(string)
	version, _ := msg["version"].(float64)
	r.perPass[passID] = append(r.perPass[passID], int(version))
	r.lastByPass[passID] = msg
	r.ok[id]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.perPass {
		n += len(v)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) auditTypes(query string) []string {
	h.t.Helper()
	res := h.admin(http.MethodGet, "/api/acme/audit?limit=1000&"+query, "")
	if res.status != http.StatusOK {
		h.t.Fatalf("audit: %d %s", res.status, res.body)
	}
	var types []string
	for _, e := range res.json(h.t)["events"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	return types
}

func count(items []string, want string) int {
	n := 0
	for _, s := range items {
		if s == want {
			n++
		}
	}
	return n
}

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

func testConfig() httpport.Config { return httpport.Config{AdminToken: adminToken} }
