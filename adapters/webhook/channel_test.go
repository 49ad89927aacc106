package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/app/push"
)

// oneWebhook is a tenant's webhook credential as the channel reads it.
type oneWebhook credentials.Webhook

func (w oneWebhook) Get(context.Context, string, string) (credentials.Webhook, error) {
	return credentials.Webhook(w), nil
}

// recorder is a receiver that keeps each request's signature header and body and answers status.
type recorder struct {
	mu      sync.Mutex
	headers []string
	bodies  [][]byte
	status  int
	srv     *httptest.Server
}

func newRecorder(t *testing.T, status int, header http.Header) *recorder {
	r := &recorder{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Get(webhook.SignatureHeader))
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.headers)
}

func push1(t *testing.T, cfg webhook.Config, w credentials.Webhook) push.Outcome {
	t.Helper()
	c, err := webhook.NewChannel(cfg, oneWebhook(w))
	if err != nil {
		t.Fatal(err)
	}
	return c.Push(context.Background(), push.Target{ID: credentials.DefaultName, Credential: credentials.DefaultName},
		push.Update{EventID: "e1", TenantID: "acme", PassID: "p-1", Revision: 2})
}

// During a rotation each request carries one v1 per secret, so a receiver checking either secret accepts it.
func TestChannel_signsWithATimestampAndEverySecret(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(t, http.StatusNoContent, nil)
	if o := push1(t, webhooktest.LocalConfig(), credentials.Webhook{URL: rcv.srv.URL, Secrets: []string{"old-secret", "new-secret"}}); o.Kind != push.Delivered {
		t.Fatalf("outcome %+v", o)
	}
	header, body := rcv.headers[0], rcv.bodies[0]
	if !regexp.MustCompile(`^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$`).MatchString(header) {
		t.Fatalf("signature header %q, want t=<unix>,v1=<hex>,v1=<hex>", header)
	}
	now := time.Now()
	for _, secret := range []string{"old-secret", "new-secret"} {
		if err := webhooktest.Verify(header, body, secret, now); err != nil {
			t.Errorf("a receiver with %s: %v", secret, err)
		}
	}
	if err := webhooktest.Verify(header, body, "another-secret", now); err == nil {
		t.Error("a receiver with another secret accepts the signature")
	}
	if err := webhooktest.Verify(header, body, "new-secret", now.Add(6*time.Minute)); err == nil {
		t.Error("a receiver 6 minutes later accepts the signature: no replay protection")
	}
	if strings.Contains(header, "sha256=") {
		t.Errorf("the old sha256= form is still sent: %q", header)
	}

	// Once the old secret is retired, its signature is gone.
	retired := newRecorder(t, http.StatusNoContent, nil)
	push1(t, webhooktest.LocalConfig(), credentials.Webhook{URL: retired.srv.URL, Secrets: []string{"new-secret"}})
	if err := webhooktest.Verify(retired.headers[0], retired.bodies[0], "old-secret", now); err == nil {
		t.Error("the retired secret still signs")
	}
}

func TestChannel_aRedirectIsAFinalFailureAndNotFollowed(t *testing.T) {
	t.Parallel()
	target := newRecorder(t, http.StatusNoContent, nil)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := newRecorder(t, status, http.Header{"Location": {target.srv.URL + "/elsewhere"}})
		o := push1(t, webhooktest.LocalConfig(), credentials.Webhook{URL: redirector.srv.URL, Secrets: []string{"s"}})
		want := fmt.Sprintf("webhook answered %d; redirects are not followed", status)
		if o.Kind != push.Rejected || o.Reason != want {
			t.Errorf("%d: outcome %+v, want rejected: %s", status, o, want)
		}
	}
	if n := target.calls(); n != 0 {
		t.Errorf("the redirect's target got %d calls", n)
	}
}

// Reasons are stored in events: they keep the error's class and never the URL's userinfo, path or query.
func TestChannel_reasonsHoldNoURLCredentials(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	secretURL := func(host string) string {
		return fmt.Sprintf("https://hookuser:pa55w0rd@%s:%d/hooks/T0K3NPATH?token=t0k3n&sig=abc", host, closedPort)
	}
	refused := push1(t, webhooktest.LocalConfig(), credentials.Webhook{URL: secretURL("127.0.0.1"), Secrets: []string{"s"}})
	if refused.Kind != push.Retry || !strings.Contains(refused.Reason, "(connection refused)") {
		t.Errorf("connection refused: %+v, want a retry naming the class", refused)
	}
	address := push1(t, webhook.Config{}, credentials.Webhook{URL: secretURL("localhost"), Secrets: []string{"s"}})
	if address.Kind != push.Rejected || !regexp.MustCompile(`^webhook address \S+ is loopback$`).MatchString(address.Reason) {
		t.Errorf("loopback by name, allow list off: %+v, want rejected saying the address is loopback", address)
	}
	for _, o := range []push.Outcome{refused, address} {
		for _, secret := range []string{"hookuser", "pa55w0rd", "T0K3NPATH", "t0k3n", "sig=abc"} {
			if strings.Contains(o.Reason, secret) {
				t.Errorf("reason %q holds %q", o.Reason, secret)
			}
		}
	}
}

// A URL stored before the policy, or under another deployment's, is refused when pushed to.
func TestChannel_refusesAStoredURLThatBreaksThePolicy(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(t, http.StatusNoContent, nil)
	o := push1(t, webhook.Config{}, credentials.Webhook{URL: rcv.srv.URL, Secrets: []string{"s"}})
	if o.Kind != push.Rejected || !strings.Contains(o.Reason, "must be https") || rcv.calls() != 0 {
		t.Errorf("http:// under the default policy: %+v and %d calls, want rejected, must be https, no call", o, rcv.calls())
	}
}
