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
	// written by hand on a connection, so its headers are on the wire before any of its body. It touches no database
	// before its body has come, so a slow database cannot end a held request early. It asks for
	// 100 Continue, which the server sends once the handler reads the body: then the request holds its slot, and
	// the next one is sent only then. Without it the first probe was sent while the held requests' headers were
	// still on their way; on a loaded machine it sometimes reached the cap first and held a slot when the second
	// held request came, which was refused (its 503 waiting behind the body it was sent without), so every later
	// probe found a slot free and the test timed out.
	body := `{"name":"held"}`
	var conns []net.Conn
	var readers []*bufio.Reader
	for i := range limit {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "PUT /api/admin/tenants/held-%d HTTP/1.1\r\nHost: passpush\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", i, adminToken, len(body))
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("held request %d: %v", i, err)
		}
		if res.StatusCode != http.StatusContinue {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("held request %d got %d %s before its body, want 100 Continue", i, res.StatusCode, b)
		}
		if err := conn.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		conns, readers = append(conns, conn), append(readers, r)
	}
	defer func() {
		if t.Failed() {
			for i, c := range conns { // a held request answered early says why
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				b := make([]byte, 512)
				n, err := readers[i].Read(b)
				t.Logf("held request's answer so far: %q (%v)", b[:n], err)
			}
		}
	}()

	// Both held requests are in their handlers: the next request is refused.
	const probe = "/no/such/route"
	refused := h.do(http.MethodGet, probe, "", nil)
	wantError(t, refused, http.StatusServiceUnavailable, "overloaded")
	if refused.header.Get("Retry-After") == "" {
		t.Fatalf("a refusal without Retry-After: %v", refused.header)
	}
	if res := h.do(http.MethodGet, "/api/admin/tenants", adminToken, nil); res.status != http.StatusServiceUnavailable {
		t.Fatalf("a known route past the cap got %d, want 503", res.status)
	}
	for _, probe := range []string{"/healthz", "/metrics"} {
		if res := h.do(http.MethodGet, probe, "", nil); res.status != http.StatusOK {
			t.Fatalf("%s past the cap got %d %s, want 200", probe, res.status, res.body)
		}
	}
	// /readyz asks the database, which has a second to answer and on a loaded machine may not: its answer, ready
	// or not, is the readiness checks', never the cap's refusal.
	if res := h.do(http.MethodGet, "/readyz", "", nil); res.json(t)["checks"] == nil {
		t.Fatalf("/readyz past the cap got %d %s, want the readiness checks", res.status, res.body)
	}

	for i, conn := range conns {
		if _, err := io.WriteString(conn, body); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(readers[i], nil)
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
