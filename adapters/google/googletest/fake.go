// Package googletest is a local fake of Google's Wallet API on httptest, for tests: the OAuth token endpoint,
// which verifies a service account's RS256 assertion with the public half of its key, and the walletobjects paths
// for get, insert, patch and addMessage of every object type, which check the bearer token, record every call and
// answer an error on demand.
package googletest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scope is the scope a token must be asked for.
const Scope = "https://www.googleapis.com/auth/wallet_object.issuer"

// The calls the fake knows, as Request.Call and Fail name them.
const (
	CallGet        = "get"
	CallInsert     = "insert"
	CallPatch      = "patch"
	CallAddMessage = "addMessage"
)

// Request is one call the fake answered.
type Request struct {
	Call       string
	ObjectType string // "generic", "loyalty", …: the path's resource without "Object"
	ObjectID   string
	Body       map[string]any
	Status     int
	At         time.Time
}

// failure is an answer the fake gives instead of the call's own.
type failure struct {
	call   string
	status int
	// apply makes the call take effect before the failure is answered: a lost answer.
	apply bool
}

// Fake is the fake API. Its zero value is not usable: call New.
type Fake struct {
	// URL is the API's base URL, with a trailing slash, as PASSPUSH_GOOGLE_API_URL takes it.
	URL string
	// TokenURL is the token endpoint, the token_uri of the key files ServiceAccount makes.
	TokenURL string

	server *httptest.Server

	mu         sync.Mutex
	keys       map[string]*rsa.PublicKey // by client_email
	tokens     map[string]time.Time      // issued access token → expiry
	tokenCalls int
	objects    map[string]map[string]any // by type + "/" + id
	requests   []Request
	failures   []failure
	latency    time.Duration
}

// New starts a fake, closed when the test ends.
func New(t testing.TB) *Fake {
	t.Helper()
	f := &Fake{keys: map[string]*rsa.PublicKey{}, tokens: map[string]time.Time{}, objects: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("/walletobjects/v1/", f.wallet)
	f.server = httptest.NewServer(mux)
	t.Cleanup(f.server.Close)
	f.URL = f.server.URL + "/"
	f.TokenURL = f.server.URL + "/token"
	return f
}

// ServiceAccount makes a service account with a new RSA key, which the token endpoint knows, and returns its key
// file as Google gives it, token_uri pointing at the fake.
func (f *Fake) ServiceAccount(t testing.TB, email string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.keys[email] = &key.PublicKey
	f.mu.Unlock()
	keyFile, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "passpush-test",
		"private_key_id": randomHex(8),
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "1234567890",
		"token_uri":      f.TokenURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return keyFile
}

// PutObject stores an object, as a customer saving the pass would: until then a patch of it answers 404.
func (f *Fake) PutObject(objectType, id string, body map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := maps.Clone(body)
	if o == nil {
		o = map[string]any{}
	}
	o["id"] = id
	f.objects[objectType+"/"+id] = o
}

// Object returns a stored object, or nil.
func (f *Fake) Object(objectType, id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.objects[objectType+"/"+id])
}

// Messages returns the messages of a stored object, in the order they were added.
func (f *Fake) Messages(objectType, id string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	list, _ := f.objects[objectType+"/"+id]["messages"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any))
	}
	return out
}

// Fail makes the next n calls named call (CallPatch, CallAddMessage, …) answer status without taking effect.
func (f *Fake) Fail(call string, status, n int) { f.fail(call, status, n, false) }

// FailAfterApplying makes the next n calls named call take effect and then answer status, as when an answer is
// lost.
func (f *Fake) FailAfterApplying(call string, status, n int) { f.fail(call, status, n, true) }

func (f *Fake) fail(call string, status, n int, apply bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{call: call, status: status, apply: apply})
	}
}

// SetLatency makes every walletobjects call answer after d.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// Requests returns the walletobjects calls answered, those named call only unless call is empty.
func (f *Fake) Requests(call string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(f.requests), func(r Request) bool { return call != "" && r.Call != call })
}

// TokenCalls returns how many tokens the token endpoint issued.
func (f *Fake) TokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls
}

// token is the OAuth token endpoint of the JWT bearer grant (RFC 7523), as Google's.
func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "want the JWT bearer grant")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(tok *jwt.Token) (any, error) {
		iss, _ := claims["iss"].(string)
		f.mu.Lock()
		key := f.keys[iss]
		f.mu.Unlock()
		if key == nil {
			return nil, fmt.Errorf("unknown service account %q", iss)
		}
		return key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(f.TokenURL), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt())
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature: "+err.Error())
		return
	}
	if scope, _ := claims["scope"].(string); !slices.Contains(strings.Fields(scope), Scope) {
		tokenError(w, http.StatusBadRequest, "invalid_scope", "want "+Scope)
		return
	}
	token := "ya29." + randomHex(16)
	f.mu.Lock()
	f.tokens[token] = time.Now().Add(time.Hour)
	f.tokenCalls++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3599})
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// walletPath is walletobjects/v1/{type}Object[/{id}[/addMessage]].
var walletPath = regexp.MustCompile(`^/walletobjects/v1/([a-zA-Z]+)Object(?:/([^/]+))?(/addMessage)?$`)

func (f *Fake) wallet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	m := walletPath.FindStringSubmatch(r.URL.EscapedPath())
	if m == nil {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "no such path")
		return
	}
	req := Request{ObjectType: m[1], ObjectID: m[2], At: time.Now()}
	switch {
	case r.Method == http.MethodGet && m[2] != "" && m[3] == "":
		req.Call = CallGet
	case r.Method == http.MethodPost && m[2] == "":
		req.Call = CallInsert
	case (r.Method == http.MethodPatch || r.Method == http.MethodPut) && m[2] != "" && m[3] == "":
		req.Call = CallPatch
	case r.Method == http.MethodPost && m[2] != "" && m[3] != "":
		req.Call = CallAddMessage
	default:
		apiError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "no such call")
		return
	}
	if raw, _ := io.ReadAll(r.Body); len(raw) > 0 {
		if err := json.Unmarshal(raw, &req.Body); err != nil {
			f.answer(w, req, http.StatusBadRequest, "INVALID_ARGUMENT", "the body is not a JSON object", nil)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	expiry, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok || time.Now().After(expiry) {
		f.answerLocked(w, req, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.", nil)
		return
	}
	var fail *failure
	if i := slices.IndexFunc(f.failures, func(x failure) bool { return x.call == req.Call }); i >= 0 {
		x := f.failures[i]
		f.failures = slices.Delete(f.failures, i, i+1)
		fail = &x
		if !x.apply {
			f.answerLocked(w, req, x.status, statusName(x.status), "failed on demand", nil)
			return
		}
	}
	status, resource := f.apply(req)
	if fail != nil {
		status = fail.status
	}
	f.answerLocked(w, req, status, statusName(status), "", resource)
}

// apply makes the call take effect. f.mu is held.
func (f *Fake) apply(req Request) (int, map[string]any) {
	key := req.ObjectType + "/" + req.ObjectID
	switch req.Call {
	case CallInsert:
		id, _ := req.Body["id"].(string)
		key = req.ObjectType + "/" + id
		if _, ok := f.objects[key]; ok || id == "" {
			return http.StatusConflict, nil
		}
		f.objects[key] = maps.Clone(req.Body)
		return http.StatusOK, f.objects[key]
	}
	o, ok := f.objects[key]
	if !ok {
		return http.StatusNotFound, nil
	}
	switch req.Call {
	case CallPatch:
		for k, v := range req.Body {
			o[k] = v
		}
		o["id"] = req.ObjectID
	case CallAddMessage:
		message, _ := req.Body["message"].(map[string]any)
		list, _ := o["messages"].([]any)
		for _, m := range list {
			if id, _ := m.(map[string]any)["id"].(string); id != "" && id == message["id"] {
				return http.StatusConflict, nil
			}
		}
		o["messages"] = append(list, message)
		return http.StatusOK, map[string]any{"resource": o}
	}
	return http.StatusOK, o
}

func (f *Fake) answer(w http.ResponseWriter, req Request, status int, code, message string, resource map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answerLocked(w, req, status, code, message, resource)
}

// answerLocked records the call and answers it. f.mu is held.
func (f *Fake) answerLocked(w http.ResponseWriter, req Request, status int, code, message string, resource map[string]any) {
	req.Status = status
	f.requests = append(f.requests, req)
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resource)
		return
	}
	if message == "" {
		message = http.StatusText(status)
	}
	apiError(w, status, code, message)
}

// apiError answers as Google's APIs do.
func apiError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": message, "status": code}})
}

func statusName(status int) string {
	switch status {
	case http.StatusOK:
		return "OK"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "INVALID_ARGUMENT"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
