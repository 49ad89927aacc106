package cli_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// With PASSPUSH_METRICS_ADDR, /metrics is served there and not on the API's address; /readyz stays with the API.
func TestServe_metricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	metricsAddr := freeAddr(t)
	s := e.startServe("PASSPUSH_ADMIN_TOKEN="+adminToken, "PASSPUSH_METRICS_ADDR="+metricsAddr)

	client := http.Client{Timeout: 30 * time.Second}
	res, err := client.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics on %s: %v\n%s", metricsAddr, err, s.logs())
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "passpush_instance_info{") {
		t.Fatalf("GET /metrics on the metrics address = %d, want 200 with passpush_instance_info:\n%.2000s", res.StatusCode, body)
	}
	if status, body := s.request(http.MethodGet, "/metrics", ""); status != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API's address = %d %.200s, want 404", status, body)
	}
	if status, body := s.request(http.MethodGet, "/readyz", ""); status != http.StatusOK {
		t.Fatalf("GET /readyz = %d %s, want 200", status, body)
	}
}

// freeAddr is a local address no one listens on, as far as the kernel can tell now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
