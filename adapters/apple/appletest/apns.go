package appletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Answer is what the fake APNs answers a push: a status, APNs' reason for anything but 200, and how long it
// takes first.
type Answer struct {
	Status int
	Reason string
	Delay  time.Duration
}

// The answers APNs gives, as the fake can be told to give them.
var (
	AnswerOK             = Answer{Status: http.StatusOK}
	AnswerGone           = Answer{Status: http.StatusGone, Reason: "Unregistered"}
	AnswerBadDeviceToken = Answer{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}
	AnswerUnregistered   = Answer{Status: http.StatusBadRequest, Reason: "Unregistered"}
	AnswerTooManyReqs    = Answer{Status: http.StatusTooManyRequests, Reason: "TooManyRequests"}
	AnswerInternalError  = Answer{Status: http.StatusInternalServerError, Reason: "InternalServerError"}
	AnswerBadCertificate = Answer{Status: http.StatusForbidden, Reason: "BadCertificate"}
)

// Push is one push the fake APNs took.
type Push struct {
	Token string
	Topic string
	At    time.Time
	// ClientSerial is the serial number of the client certificate the push came with: which certificate's
	// client made it.
	ClientSerial string
}

// APNs is a fake of Apple's push service for passes: an HTTP/2 TLS server with a certificate issued by the test
// root, that requires a client certificate chaining to the test root (a Pass Type ID certificate with the WWDR
// stand-in as its chain). It checks each push as APNs does (POST /3/device/{token}, an apns-topic that is the
// client certificate's Pass Type ID, the payload `{}`), records it, and answers 200 unless told otherwise per
// token.
type APNs struct {
	// URL is the fake's address, for PASSPUSH_APNS_URL or the channel's config.
	URL string
	// RootCAs trusts the fake's server certificate: the test root. SSL_CERT_FILE=pki.Root.CertFile does the same
	// for a passpush process.
	RootCAs *x509.CertPool

	server *httptest.Server

	mu      sync.Mutex
	answers map[string][]Answer
	delay   time.Duration
	pushes  []Push
	// tokens is the distinct tokens of pushes, so that a benchmark's poll of how many devices were pushed does
	// not copy and sort every push (it was 2% of bench/apple's profile).
	tokens      map[string]struct{}
	refused     []string
	connections int
	open        int
}

// NewAPNs starts a fake APNs that trusts the PKI's root, and stops it when the test ends.
func NewAPNs(tb testing.TB, pki *PKI) *APNs {
	tb.Helper()
	f := &APNs{answers: map[string][]Answer{}, tokens: map[string]struct{}{}}
	roots := x509.NewCertPool()
	roots.AddCert(pki.Root.Cert)
	f.RootCAs = roots

	f.server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.server.EnableHTTP2 = true
	f.server.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCertificate(tb, pki)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
		// Called once per handshake whose client certificate was verified: one per connection.
		VerifyConnection: func(tls.ConnectionState) error {
			f.mu.Lock()
			f.connections++
			f.mu.Unlock()
			return nil
		},
	}
	// Refused handshakes are the point of some tests, not noise to print.
	f.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch s {
		case http.StateNew:
			f.open++
		case http.StateClosed, http.StateHijacked:
			f.open--
		}
	}
	f.server.StartTLS()
	f.URL = f.server.URL
	tb.Cleanup(f.server.Close)
	return f
}

// Answer sets the answers to the token's next pushes, in order; the last one is given to every push after
// them. A token without answers gets AnswerOK.
func (f *APNs) Answer(token string, answers ...Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[token] = answers
}

// SetDelay makes every push take d before it is answered, on top of its answer's own Delay: 20 ms stands for
// APNs' latency in benchmarks.
func (f *APNs) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Pushes returns the pushes the fake took (whatever it answered), in the order they arrived.
func (f *APNs) Pushes() []Push {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Push(nil), f.pushes...)
}

// Tokens returns the token of each push the fake took, in the order they arrived.
func (f *APNs) Tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tokens := make([]string, len(f.pushes))
	for i, p := range f.pushes {
		tokens[i] = p.Token
	}
	return tokens
}

// DistinctTokens returns how many distinct tokens the fake took pushes to.
func (f *APNs) DistinctTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokens)
}

// Refused returns why the fake refused requests that are not pushes as APNs takes them: a wrong method, path,
// topic or payload. A test of a well-behaved client expects none.
func (f *APNs) Refused() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refused...)
}

// Connections returns how many TLS connections, with a verified client certificate, the fake has accepted.
func (f *APNs) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connections
}

// OpenConnections returns how many connections are open now, refused handshakes included while they last.
func (f *APNs) OpenConnections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// Reset forgets the pushes, the refusals and the answers, and keeps the connections open.
func (f *APNs) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes, f.refused, f.answers, f.tokens = nil, nil, map[string][]Answer{}, map[string]struct{}{}
}

func (f *APNs) serve(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		f.refuse(w, http.StatusBadRequest, "BadProtocol", "not HTTP/2: "+r.Proto)
		return
	}
	if r.Method != http.MethodPost {
		f.refuse(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method "+r.Method)
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok || token == "" || strings.Contains(token, "/") {
		f.refuse(w, http.StatusNotFound, "BadPath", "path "+r.URL.Path)
		return
	}
	var clientCert *x509.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		clientCert = r.TLS.PeerCertificates[0]
	}
	topic := r.Header.Get("apns-topic")
	switch {
	case topic == "":
		f.refuse(w, http.StatusBadRequest, "MissingTopic", "no apns-topic")
		return
	case clientCert == nil || topic != uid(clientCert):
		f.refuse(w, http.StatusBadRequest, "TopicDisallowed", "apns-topic "+topic+" is not the client certificate's Pass Type ID")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		f.refuse(w, http.StatusBadRequest, "PayloadEmpty", "read payload: "+err.Error())
		return
	}
	if string(body) != "{}" {
		f.refuse(w, http.StatusBadRequest, "BadPayload", "payload "+string(body)+", want {}")
		return
	}

	f.mu.Lock()
	f.pushes = append(f.pushes, Push{Token: token, Topic: topic, At: time.Now(), ClientSerial: clientCert.SerialNumber.String()})
	f.tokens[token] = struct{}{}
	a := AnswerOK
	if queued := f.answers[token]; len(queued) > 0 {
		a = queued[0]
		if len(queued) > 1 {
			f.answers[token] = queued[1:]
		}
	}
	delay := f.delay + a.Delay
	f.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000000")
	if a.Status == http.StatusOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Status)
	answer := map[string]any{"reason": a.Reason}
	if a.Status == http.StatusGone {
		answer["timestamp"] = time.Now().UnixMilli()
	}
	_ = json.NewEncoder(w).Encode(answer)
}

func (f *APNs) refuse(w http.ResponseWriter, status int, reason, why string) {
	f.mu.Lock()
	f.refused = append(f.refused, why)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason})
}

// uid returns a certificate's subject UID: a Pass Type ID certificate's Pass Type ID.
func uid(c *x509.Certificate) string {
	for _, n := range c.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(OIDUserID) {
			return s
		}
	}
	return ""
}

// serverCertificate issues, under the PKI's root, the fake's server certificate for 127.0.0.1, ::1 and
// localhost.
func serverCertificate(tb testing.TB, pki *PKI) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: "fake APNs", Organization: []string{"passpush tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Root.Cert, key.Public(), pki.Root.Key)
	if err != nil {
		tb.Fatalf("appletest: issue the fake APNs' certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
