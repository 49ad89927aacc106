package httpport

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestForwardedHeaders_countOnlyFromTrustedProxies(t *testing.T) {
	s := server{config: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tt := range []struct {
		name, peer  string
		headers     map[string]string
		url, client string
	}{
		{"direct", "203.0.113.7:4242", nil, "http://passpush.test", "203.0.113.7"},
		{"direct, claiming a proxy's headers", "203.0.113.7:4242",
			map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example;proto=https", "X-Forwarded-For": "198.51.100.1"},
			"http://passpush.test", "203.0.113.7"},
		{"trusted proxy, X-Forwarded-*", "10.1.2.3:4242",
			map[string]string{"X-Forwarded-Host": "jb.example.org", "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9, 198.51.100.1, 10.0.0.5"},
			"https://jb.example.org", "198.51.100.1"},
		{"trusted proxy, Forwarded wins", "10.1.2.3:4242",
			map[string]string{"Forwarded": `for=198.51.100.1;proto=https;host="jb.example.net"`, "X-Forwarded-Host": "other.example"},
			"https://jb.example.net", "10.1.2.3"},
		{"trusted IPv4-mapped peer", "[::ffff:10.1.2.3]:4242", map[string]string{"X-Forwarded-Host": "jb.example.org"}, "http://jb.example.org", "10.1.2.3"},
		{"trusted proxy, a host with a path is ignored", "10.1.2.3:4242", map[string]string{"X-Forwarded-Host": "evil.example/x"}, "http://passpush.test", "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "http://passpush.test/api/acme/x", nil)
		r.RemoteAddr = tt.peer
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		if got := s.publicURL(r); got != tt.url {
			t.Errorf("%s: publicURL = %q, want %q", tt.name, got, tt.url)
		}
		if got := s.clientAddress(r); got != tt.client {
			t.Errorf("%s: clientAddress = %q, want %q", tt.name, got, tt.client)
		}
	}
}
