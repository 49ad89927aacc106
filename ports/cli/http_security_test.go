package cli

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	httpport "github.com/passpush/passpush/ports/http"
)

func TestDefaultFrameAncestors_isTheHTTPPorts(t *testing.T) {
	if DefaultFrameAncestors != httpport.DefaultFrameAncestors {
		t.Fatalf("DefaultFrameAncestors = %q, the HTTP port's is %q", DefaultFrameAncestors, httpport.DefaultFrameAncestors)
	}
}

func TestConfigValidate_trustedProxiesAndFrameAncestors(t *testing.T) {
	valid := Config{HTTPAddr: ":8080", LogLevel: "info", DBMaxConns: "20", DBMaxIdleTime: "5m"}
	for _, tt := range []struct {
		proxies, ancestors, wantErr string
	}{
		{"", "", ""},
		{"10.0.0.0/8, 192.168.1.7 ,fd00::/8", DefaultFrameAncestors, ""},
		{"", "'self' https://*.exacttarget.com http://127.0.0.1:* https:", ""},
		{"10.0.0.0/33", "", "PASSPUSH_TRUSTED_PROXIES"},
		{"proxy.internal", "", "PASSPUSH_TRUSTED_PROXIES"},
		{"", "https://*.exacttarget.com; script-src *", "PASSPUSH_FRAME_ANCESTORS"},
		{"", "https://a.example.com,https://b.example.com", "PASSPUSH_FRAME_ANCESTORS"},
	} {
		c := valid
		c.TrustedProxies, c.FrameAncestors = tt.proxies, tt.ancestors
		err := c.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("proxies %q, frame ancestors %q: Validate() = %v, want an error naming %q", tt.proxies, tt.ancestors, err, tt.wantErr)
		}
	}
	c := Config{TrustedProxies: "10.0.0.0/8, 192.168.1.7,::ffff:172.16.0.1, 10.1.2.3/16"}
	got, err := c.TrustedProxyPrefixes()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("172.16.0.1/32"), netip.MustParsePrefix("10.1.0.0/16")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedProxyPrefixes() = %v, %v; want %v", got, err, want)
	}
}

// A request whose headers pass 64 KiB is refused with 431 before any handler runs.
func TestHTTPServer_refusesHeadersLargerThan64KiB(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := newHTTPServer(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })

	get := func(headerBytes int) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+listener.Addr().String()+"/", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", headerBytes))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if status := get(32 << 10); status != http.StatusOK {
		t.Errorf("32 KiB of headers: %d, want 200", status)
	}
	// net/http allows 4 KiB beyond MaxHeaderBytes; 80 KiB is past that, and far below the default of 1 MiB.
	if status := get(80 << 10); status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("80 KiB of headers: %d, want 431", status)
	}
}
