package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

const (
	adminToken    = "bench-admin-token"
	webhookSecret = "bench-webhook-secret"
	publicURL     = "https://passpush.bench.example"
)

// outcomes counts the PushUpdateEmitted and PushUpdateFailed events of the tenants. The phase polls it every
// 100 ms for the length of the phase (40 s with Google), so it reads only the outcomes' streams (the pass's push
// stream, passes.PushStreamPrefix) through the events' (tenant_id, stream_id, …) index: a count over every event
// whose tenant id has the phase's prefix scanned the whole table, which grows round after round, and took a
// sixth of the run's CPU, counted in the Google phase's CPU per update and competing with its deliveries.
func outcomes(ctx context.Context, s *benchkit.Service, tenantIDs []string) (emitted, failed int, err error) {
	low := passes.PushStreamPrefix
	high := low[:len(low)-1] + string(low[len(low)-1]+1) // the first stream id after every "pushes-…"
	for _, tenantID := range tenantIDs {
		var e, f int
		err = s.DB.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN event_type = 'PushUpdateEmitted' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN event_type = 'PushUpdateFailed' THEN 1 ELSE 0 END), 0)
			FROM events WHERE tenant_id = $1 AND stream_id >= $2 AND stream_id < $3`, tenantID, low, high).Scan(&e, &f)
		if err != nil {
			return 0, 0, err
		}
		emitted, failed = emitted+e, failed+f
	}
	return emitted, failed, nil
}

// admin calls the management API with a JSON body and fails on any answer but a 2xx: every setting-up step must
// succeed for the figures to mean anything.
func admin(ctx context.Context, s *benchkit.Service, method, path string, body any) ([]byte, error) {
	raw := []byte{}
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	status, b, err := benchkit.AdminCall(ctx, method, s.URL+path, adminToken, raw)
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return b, fmt.Errorf("%s %s: %d %s", method, path, status, b)
	}
	return b, nil
}

// receiver is the tenants' webhook: it takes delay per call, checks the signature and records when each pass's
// update first arrived.
type receiver struct {
	url    string
	delay  time.Duration
	server *httptest.Server

	mu           sync.Mutex
	first        map[string]time.Time // passId → first 2xx
	calls        int
	duplicates   int
	badSignature int
}

func newReceiver(delay time.Duration) *receiver {
	r := &receiver{delay: delay, first: map[string]time.Time{}}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	r.url = r.server.URL
	return r
}

func (r *receiver) close() { r.server.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	good := webhooktest.Verify(req.Header.Get(webhook.SignatureHeader), body, webhookSecret, time.Now()) == nil
	timer := time.NewTimer(r.delay)
	select {
	case <-timer.C:
	case <-req.Context().Done():
		timer.Stop()
		return
	}
	var msg struct {
		PassID string `json:"passId"`
	}
	_ = json.Unmarshal(body, &msg)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if !good {
		r.badSignature++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if _, seen := r.first[msg.PassID]; seen {
		r.duplicates++
	} else {
		r.first[msg.PassID] = now
	}
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns when each of passIDs first arrived, and how many did.
func (r *receiver) delivered(passIDs []string) (map[string]time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(passIDs))
	for _, id := range passIDs {
		if at, ok := r.first[id]; ok {
			out[id] = at
		}
	}
	return out, len(out)
}

// sfmcSecretOf is a tenant's SFMC signing secret: each tenant's installed package has its own, and passpush
// refuses a secret another tenant has.
func sfmcSecretOf(tenantID string) string { return "bench-sfmc-secret-" + tenantID }
