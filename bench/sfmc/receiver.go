package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/webhook/webhooktest"
)

// signatureHeader is webhook.SignatureHeader; it is repeated here so the receiver checks the wire format, not
// the package's constant.
const signatureHeader = "X-Passpush-Signature"

// receiver is the tenant's webhook: it takes delay per call, answers 204, checks every signature, and counts
// deliveries per eventId and their order per pass.
type receiver struct {
	secret string
	delay  time.Duration
	url    string
	server *http.Server
	tl     *timeline

	mu           sync.Mutex
	calls        int
	unique       int
	duplicates   int
	badSignature int
	badBody      int
	outOfOrder   int
	seen         map[string]firstDelivery // by eventId
	lastVersion  map[string]int
	firstUnique  time.Time
	lastUnique   time.Time
	lastProgress time.Time
}

type delivery struct {
	EventID              string `json:"eventId"`
	PassID               string `json:"passId"`
	Version              int    `json:"version"`
	DefinitionInstanceID string `json:"definitionInstanceId"`
}

type firstDelivery struct {
	definitionInstanceID string
	at                   time.Time
}

func startReceiver(secret string, delay time.Duration, tl *timeline) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{
		secret: secret, delay: delay, tl: tl,
		url:         "http://" + ln.Addr().String() + "/webhook",
		seen:        make(map[string]firstDelivery, 1<<15),
		lastVersion: make(map[string]int, 1<<12),
	}
	r.server = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = r.server.Serve(ln) }()
	return r, nil
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.server.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = r.server.Close()
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// The receiver "takes 50 ms per call": the work is the wait, whatever the call holds.
	time.Sleep(r.delay)

	signed := webhooktest.Verify(req.Header.Get(signatureHeader), body, r.secret, time.Now()) == nil
	var d delivery
	parseErr := json.Unmarshal(body, &d)

	now := time.Now()
	isNew := false
	r.mu.Lock()
	r.calls++
	switch {
	case !signed:
		r.badSignature++
	case parseErr != nil || d.EventID == "" || d.PassID == "":
		r.badBody++
	default:
		if _, dup := r.seen[d.EventID]; dup {
			r.duplicates++
			break
		}
		r.seen[d.EventID] = firstDelivery{definitionInstanceID: d.DefinitionInstanceID, at: now}
		isNew = true
		r.unique++
		if r.firstUnique.IsZero() {
			r.firstUnique = now
		}
		r.lastUnique = now
		r.lastProgress = now
		if d.Version <= r.lastVersion[d.PassID] {
			r.outOfOrder++
		}
		r.lastVersion[d.PassID] = max(r.lastVersion[d.PassID], d.Version)
	}
	r.mu.Unlock()
	if !signed || parseErr != nil {
		// A 4xx makes passpush record PushUpdateFailed, which the summary shows.
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if isNew {
		r.tl.delivered(now)
	}
	w.WriteHeader(http.StatusNoContent)
}

type receiverStats struct {
	calls, unique, duplicates, badSignature, badBody, outOfOrder int
	firstUnique, lastUnique, lastProgress                        time.Time
}

func (r *receiver) stats() receiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return receiverStats{
		calls: r.calls, unique: r.unique, duplicates: r.duplicates, badSignature: r.badSignature,
		badBody: r.badBody, outOfOrder: r.outOfOrder,
		firstUnique: r.firstUnique, lastUnique: r.lastUnique, lastProgress: r.lastProgress,
	}
}

// firstDeliveries returns when each event first reached the receiver, by eventId.
func (r *receiver) firstDeliveries() map[string]firstDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]firstDelivery, len(r.seen))
	for id, d := range r.seen {
		out[id] = d
	}
	return out
}
