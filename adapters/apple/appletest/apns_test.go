package appletest_test

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/passpush/passpush/adapters/apple/appletest"
	"golang.org/x/net/http2"
)

// The fake is only worth its tests if it refuses what APNs refuses: a client without a certificate, or with one
// the test root did not issue, gets no push through.
func TestAPNs_refusesAClientWithoutTheCertificate(t *testing.T) {
	pki := appletest.NewPKI(t)
	fake := appletest.NewAPNs(t, pki)
	otherCA := pki.OtherCA(t)
	other := pki.IssuePass(t, "foreign", appletest.PassOptions{Issuer: otherCA})
	foreign, err := tls.X509KeyPair(append(append([]byte{}, other.CertPEM...), otherCA.CertPEM...), other.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "a certificate of another CA": {foreign}} {
		t.Run(name, func(t *testing.T) {
			client := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.RootCAs, Certificates: certs}}}
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodPost, fake.URL+"/3/device/abcd", bytes.NewReader([]byte("{}")))
			req.Header.Set("apns-topic", appletest.PassTypeID)
			res, err := client.Do(req)
			if err == nil {
				_ = res.Body.Close()
				t.Fatalf("the fake answered %d to a client without the test root's certificate", res.StatusCode)
			}
			t.Logf("refused: %v", err)
			if n := len(fake.Pushes()); n != 0 {
				t.Fatalf("the fake recorded %d pushes", n)
			}
			if n := fake.Connections(); n != 0 {
				t.Fatalf("the fake accepted %d connections", n)
			}
		})
	}
}

// A push as APNs takes it is recorded, with the certificate it came with; anything else is refused with APNs'
// reason.
func TestAPNs_checksEachPush(t *testing.T) {
	pki := appletest.NewPKI(t)
	fake := appletest.NewAPNs(t, pki)
	pair, err := tls.X509KeyPair(append(append([]byte{}, pki.Pass.CertPEM...), pki.WWDR.CertPEM...), pki.Pass.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.RootCAs, Certificates: []tls.Certificate{pair}}}}
	defer client.CloseIdleConnections()
	post := func(path, topic, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, fake.URL+path, bytes.NewReader([]byte(body)))
		if topic != "" {
			req.Header.Set("apns-topic", topic)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	fake.Answer("gone", appletest.AnswerGone)
	fake.Answer("flaky", appletest.AnswerInternalError, appletest.AnswerOK)
	cases := []struct {
		path, topic, body string
		want              int
	}{
		{"/3/device/ok", appletest.PassTypeID, "{}", 200},
		{"/3/device/gone", appletest.PassTypeID, "{}", 410},
		{"/3/device/flaky", appletest.PassTypeID, "{}", 500},
		{"/3/device/flaky", appletest.PassTypeID, "{}", 200},
		{"/3/device/ok", "", "{}", 400},                           // no topic
		{"/3/device/ok", "pass.com.example.other", "{}", 400},     // not the certificate's
		{"/3/device/ok", appletest.PassTypeID, `{"aps":{}}`, 400}, // not {}
		{"/2/device/ok", appletest.PassTypeID, "{}", 404},         // not the path
		{"/3/device/", appletest.PassTypeID, "{}", 404},           // no token
		{"/3/device/ok/more", appletest.PassTypeID, "{}", 404},    // not a token
	}
	for _, c := range cases {
		if got := post(c.path, c.topic, c.body); got != c.want {
			t.Errorf("POST %s topic %q body %s: %d, want %d", c.path, c.topic, c.body, got, c.want)
		}
	}
	pushes := fake.Pushes()
	if got := fake.Tokens(); len(got) != 4 || got[0] != "ok" || got[1] != "gone" || got[2] != "flaky" || got[3] != "flaky" {
		t.Fatalf("pushes %v, want ok gone flaky flaky", got)
	}
	if n := fake.DistinctTokens(); n != 3 {
		t.Fatalf("%d distinct tokens pushed, want 3 (ok, gone, flaky)", n)
	}
	if pushes[0].Topic != appletest.PassTypeID || pushes[0].ClientSerial != pki.Pass.Cert.SerialNumber.String() {
		t.Fatalf("push %+v: want topic %s and the Pass Type ID certificate's serial", pushes[0], appletest.PassTypeID)
	}
	if n := len(fake.Refused()); n != 6 {
		t.Fatalf("refused %d requests, want 6: %v", n, fake.Refused())
	}
	if n := fake.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}
