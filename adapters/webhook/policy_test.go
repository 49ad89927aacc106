package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// The address check runs on the address the dialer is about to connect to, whatever name led to it, and says
// why it refuses.
func TestPolicy_dialRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	dial := NewPolicy(Config{}).dialer().DialContext
	for addr, reason := range map[string]string{
		"127.0.0.1:9":                 "loopback",
		"127.5.6.7:9":                 "loopback",
		"[::1]:9":                     "loopback",
		"10.0.0.5:9":                  "private",
		"172.16.3.4:9":                "private",
		"192.168.1.1:9":               "private",
		"[fd12:3456::1]:9":            "private",
		"169.254.169.254:80":          "link-local",
		"[fe80::1]:9":                 "link-local",
		"224.0.0.1:9":                 "multicast",
		"[ff02::1]:9":                 "multicast",
		"0.0.0.0:9":                   "unspecified",
		"[::]:9":                      "unspecified",
		"[::ffff:10.0.0.5]:9":         "private",
		"[::ffff:169.254.169.254]:80": "link-local",
		"[::ffff:127.0.0.1]:9":        "loopback",
		"255.255.255.255:9":           "broadcast",
		"100.100.100.200:80":          "shared (carrier-grade NAT)",
		"[64:ff9b::a9fe:a9fe]:80":     "link-local",
		"[64:ff9b::a00:5]:9":          "private",
	} {
		conn, err := dial(context.Background(), "tcp", addr)
		if conn != nil {
			conn.Close()
		}
		var addrErr *AddressError
		if !errors.As(err, &addrErr) || addrErr.Reason != reason {
			t.Errorf("dial %s: %v, want it refused as %s", addr, err, reason)
			continue
		}
		if want := "is " + reason; !strings.Contains(err.Error(), want) {
			t.Errorf("dial %s: %q does not say %q", addr, err, want)
		}
	}
	for _, public := range []string{"8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "100.128.0.1"} {
		if err := NewPolicy(Config{}).checkAddr(netip.MustParseAddr(public)); err != nil {
			t.Errorf("public address %s refused: %v", public, err)
		}
	}
}

func TestPolicy_allowedRangesAreDialled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if conn, err := NewPolicy(Config{}).dialer().DialContext(context.Background(), "tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("dial %s without an allowed range: connected", addr)
	}
	allowed := NewPolicy(Config{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	conn, err := allowed.dialer().DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s with 127.0.0.0/8 allowed: %v", addr, err)
	}
	conn.Close()
}

func TestPolicy_checkWebhookURL(t *testing.T) {
	t.Parallel()
	strict := NewPolicy(Config{})
	dev := NewPolicy(Config{AllowInsecure: true})
	for _, c := range []struct {
		policy Policy
		url    string
		want   string // in the error; empty means allowed
	}{
		{strict, "https://hooks.example.com/p?token=t", ""},
		{strict, "http://hooks.example.com/p", "must be https"},
		{strict, "http://127.0.0.1:8080/p", "must be https"},
		{strict, "https://10.0.0.5/p", "webhook address 10.0.0.5 is private"},
		{strict, "https://[fe80::1]/p", "is link-local"},
		{strict, "https://169.254.169.254/latest/meta-data", "is link-local"},
		{strict, "ftp://hooks.example.com/p", "https"},
		{dev, "http://127.0.0.1:8080/p", "is loopback"}, // the loopback range needs AllowCIDRs too
		{dev, "http://localhost:8080/p", ""},
		{dev, "http://hooks.example.com/p", "only for a loopback host"},
		{dev, "http://10.0.0.5/p", "only for a loopback host"},
		{NewPolicy(Config{AllowInsecure: true, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}), "http://127.0.0.1:8080/p", ""},
	} {
		err := c.policy.CheckWebhookURL(c.url)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckWebhookURL(%q) = %v, want %q", c.url, err, c.want)
		}
	}
}

// A proxy from the environment would be dialled instead of the webhook, and would reach what the dialer refuses.
func TestClient_usesNoProxyAndFollowsNoRedirect(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
	t.Setenv("HTTP_PROXY", "http://proxy.example.com:3128")
	c := newClient(Config{}, NewPolicy(Config{}))
	if c.Transport.(*http.Transport).Proxy != nil {
		t.Error("the webhook client uses a proxy")
	}
	if c.CheckRedirect == nil || !errors.Is(c.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
		t.Error("the webhook client follows redirects")
	}
}
