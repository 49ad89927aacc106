package apple

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/push"
	"github.com/sideshow/apns2"
	"golang.org/x/net/http2"
)

// errUnusableCertificate is wrapped by the build of a client from a stored certificate that cannot be used: one
// that does not decode, or that is stored under another Pass Type ID than its own.
var errUnusableCertificate = errors.New("unusable Apple certificate")

// apnsIdleTimeout is how long a certificate's connection to APNs stays open without a push. Apple asks providers
// to keep connections open rather than open one per push; a tenant idle for longer reconnects.
const apnsIdleTimeout = 15 * time.Minute

// apnsClient is the long-lived HTTP/2 connection to APNs of one Pass Type ID certificate.
//
// It is github.com/sideshow/apns2's client rather than the standard library's: apns2 speaks APNs' provider API
// (the apns-* headers, the JSON reason of a refusal and its names) over an x/net/http2 transport that keeps one
// connection per host and pings it when idle, which is how Apple asks providers to connect; with net/http alone,
// the same request and response code would be written here.
type apnsClient struct {
	client     *apns2.Client
	passTypeID string
	notAfter   time.Time

	mu       sync.Mutex
	inFlight int
	closed   bool
}

// newAPNsClient builds the client of a stored certificate. It connects on the first push.
func newAPNsClient(c credentials.Credential, cfg ChannelConfig) (*apnsClient, error) {
	cert, err := DecodeCertificate(c.Data)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", errUnusableCertificate, c.Name, err)
	}
	if cert.PassTypeID != c.Name {
		return nil, fmt.Errorf("%w %q: it is stored under another Pass Type ID than its own, %q", errUnusableCertificate, c.Name, cert.PassTypeID)
	}
	client := apns2.NewClient(cert.TLSCertificate())
	client.Host = strings.TrimSuffix(cfg.URL, "/")
	client.HTTPClient.Timeout = cfg.Timeout
	transport, ok := client.HTTPClient.Transport.(*http2.Transport)
	if !ok {
		return nil, fmt.Errorf("apns2's transport is a %T, not an HTTP/2 one", client.HTTPClient.Transport)
	}
	// Trust is only ever added: nil RootCAs are the system's roots, and server certificates are always verified.
	transport.TLSClientConfig.RootCAs = cfg.RootCAs
	transport.TLSClientConfig.MinVersion = tls.VersionTLS12
	transport.IdleConnTimeout = apnsIdleTimeout
	return &apnsClient{client: client, passTypeID: cert.PassTypeID, notAfter: cert.NotAfter}, nil
}

// push sends the empty notification that makes Wallet fetch the pass of topic again.
func (a *apnsClient) push(ctx context.Context, token, topic string) push.Outcome {
	if now := time.Now(); now.After(a.notAfter) {
		// APNs would refuse it at the handshake, again on every retry.
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf(
			"the Apple certificate of %s expired on %s: renew it on Apple's developer site and add it again",
			a.passTypeID, a.notAfter.UTC().Format(time.RFC3339))}
	}
	a.begin()
	defer a.end()
	res, err := a.client.PushWithContext(ctx, &apns2.Notification{DeviceToken: token, Topic: topic, Payload: []byte("{}")})
	return outcome(res, err, topic)
}

// Close releases the client's connection, now if it is idle or else once the pushes in flight have ended: the
// cache may replace a client that a push still uses.
func (a *apnsClient) Close() error {
	a.mu.Lock()
	a.closed = true
	idle := a.inFlight == 0
	a.mu.Unlock()
	if idle {
		a.client.CloseIdleConnections()
	}
	return nil
}

func (a *apnsClient) begin() {
	a.mu.Lock()
	a.inFlight++
	a.mu.Unlock()
}

func (a *apnsClient) end() {
	a.mu.Lock()
	a.inFlight--
	idle := a.closed && a.inFlight == 0
	a.mu.Unlock()
	if idle {
		a.client.CloseIdleConnections()
	}
}
