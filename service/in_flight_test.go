package service_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	httpport "github.com/passpush/passpush/ports/http"
)

// With PASSPUSH_MAX_IN_FLIGHT requests held in a handler, the next one is refused at once with 503 overloaded and
// Retry-After, /healthz, /readyz and /metrics still answer, and once the held requests end a request is served again.
func TestRequestsPastTheInFlightCapAreRefused(t *testing.T) {
	const limit = 2
	h := start(t, httpport.Config{AdminToken: adminToken, MaxInFlight: limit})

	// A PUT whose body has not arrived stays in its handler, which reads the body first, until the body ends. It is
	// written by hand on a connection, so its headers are on the wire before any of its body. Neither it nor the
	// probes below touch the database, so a slow database cannot end a held request early.
	body := `{"name":"held"}`
	var conns []net.Conn
	for i := range limit {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "PUT /api/admin/tenants/held-%d HTTP/1.1\r\nHost: passpush\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", i, adminToken, len(body))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	defer func() {
		if t.Failed() {
			for _, c := range conns { // a held request answered early says why
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				b := make([]byte, 512)
				n, _ := c.Read(b)
				t.Logf("held request's answer so far: %q", b[:n])
			}
		}
	}()

	// The held requests take their slots as soon as their headers arrive; until then a request may still pass.
	const probe = "/no/such/route"
	var refused response
	eventually(t, 15*time.Second, "a request past the cap to be refused", func() bool {
		refused = h.do(http.MethodGet, probe, "", nil)
		return refused.status == http.StatusServiceUnavailable
	})
	wantError(t, refused, http.StatusServiceUnavailable, "overloaded")
	if refused.header.Get("Retry-After") == "" {
		t.Fatalf("a refusal without Retry-After: %v", refused.header)
	}
	if res := h.do(http.MethodGet, "/api/admin/tenants", adminToken, nil); res.status != http.StatusServiceUnavailable {
		t.Fatalf("a known route past the cap got %d, want 503", res.status)
	}
	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		if res := h.do(http.MethodGet, probe, "", nil); res.status != http.StatusOK {
			t.Fatalf("%s past the cap got %d %s, want 200", probe, res.status, res.body)
		}
	}

	for _, conn := range conns {
		if _, err := io.WriteString(conn, body); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			t.Fatalf("a held request ended with 503")
		}
	}
	if res := h.do(http.MethodGet, probe, "", nil); res.status != http.StatusNotFound {
		t.Fatalf("after the held requests ended, a request got %d %s, want 404", res.status, res.body)
	}
}
