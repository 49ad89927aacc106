package httpport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/passpush/passpush/app"
	"github.com/sirupsen/logrus"
)

func TestExecuteBasePath(t *testing.T) {
	for path, want := range map[string]string{
		"/api/acme" + PassCheckBasePath + "/execute":   PassCheckBasePath,
		"/api/acme" + SFMCBasePath + "/execute":        SFMCBasePath,
		"/api/acme" + PassCheckBasePath + "/publish":   "",
		"/api/acme" + PassCheckBasePath + "/execute/":  "",
		"/api/" + PassCheckBasePath + "/execute":       "",
		"/api/.." + PassCheckBasePath + "/execute":     "",
		"/api/." + PassCheckBasePath + "/execute":      "",
		"/api/acme/x" + PassCheckBasePath + "/execute": "/x" + PassCheckBasePath,
		"/other/acme" + PassCheckBasePath + "/execute": "",
	} {
		if got := executeBasePath(path); got != want {
			t.Errorf("executeBasePath(%q) = %q, want %q", path, got, want)
		}
	}
}

// The shortcut must answer exactly as the main router would: same status, headers and body, for the calls it
// takes and for the near misses it leaves to the router. The application is empty, so a request that reaches a
// handler needing it fails there, the same way on both paths, which is what is compared.
func TestExecuteShortcut_answersAsTheMainRouter(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err := NewServer(app.Application{}, Config{}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	shortcut, ok := h.(*inFlightLimit).next.(executeShortcut)
	if !ok {
		t.Fatalf("the server's handler is %T, want the execute shortcut inside the in-flight limit", h.(*inFlightLimit).next)
	}
	requests := []struct{ method, path, body string }{
		{http.MethodPost, "/api/acme" + PassCheckBasePath + "/execute", "not a jwt"},
		{http.MethodPost, "/api/acme" + SFMCBasePath + "/execute", "a.b.c"},
		{http.MethodPost, "/api/acme" + PassCheckBasePath + "/execute?x=%00", ""},
		{http.MethodPost, "/api/admin" + PassCheckBasePath + "/execute", ""},
		{http.MethodPost, "/api/.." + PassCheckBasePath + "/execute", ""},
		{http.MethodPost, "/api/acme" + PassCheckBasePath + "/execute/", ""},
		{http.MethodGet, "/api/acme" + PassCheckBasePath + "/execute", ""},
		{http.MethodPost, "/api/acme" + PassCheckBasePath + "/publish", "{}"},
	}
	for _, req := range requests {
		answer := func(handler http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
			r.Header.Set("X-Request-Id", "shortcut-test")
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			return w
		}
		viaShortcut, viaRouter := answer(shortcut), answer(shortcut.main)
		if viaShortcut.Code != viaRouter.Code || viaShortcut.Body.String() != viaRouter.Body.String() {
			t.Errorf("%s %s: the shortcut answered %d %q, the router %d %q", req.method, req.path,
				viaShortcut.Code, viaShortcut.Body.String(), viaRouter.Code, viaRouter.Body.String())
		}
		for name := range viaRouter.Header() {
			if viaShortcut.Header().Get(name) != viaRouter.Header().Get(name) {
				t.Errorf("%s %s: header %s is %q through the shortcut, %q through the router", req.method, req.path,
					name, viaShortcut.Header().Get(name), viaRouter.Header().Get(name))
			}
		}
		if len(viaShortcut.Header()) != len(viaRouter.Header()) {
			t.Errorf("%s %s: headers %v through the shortcut, %v through the router", req.method, req.path, viaShortcut.Header(), viaRouter.Header())
		}
	}
}
