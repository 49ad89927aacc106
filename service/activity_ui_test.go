package service_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// getAsset fetches a path with the given request headers and without the client's transparent gzip.
func (h *harness) getAsset(path string, header map[string]string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return h.send(req)
}

func TestActivityUI_servesThePageAndItsAssetsWithCachingHeaders(t *testing.T) {
	h := startWithTenant(t)
	index := h.getAsset(activityBase+"/index.html", nil)
	root := h.getAsset(activityBase+"/", nil)
	if index.status != http.StatusOK || root.status != http.StatusOK || !bytes.Equal(index.body, root.body) {
		t.Fatalf("index.html %d and / %d must serve the same page", index.status, root.status)
	}
	if index.header.Get("Content-Type") != "text/html; charset=utf-8" || index.header.Get("Cache-Control") != "no-cache" ||
		index.header.Get("ETag") == "" || !strings.Contains(index.header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("index.html headers: %v", index.header)
	}
	for _, ref := range []string{`src="postmonger.js"`, `src="activity.js"`, `href="salesforce-lightning-design-system.min.css"`, `href="activity.css"`, `src="icon.svg"`} {
		if !bytes.Contains(index.body, []byte(ref)) {
			t.Errorf("index.html does not load %s", ref)
		}
	}

	total := 0
	for name, contentType := range map[string]string{
		"postmonger.js": "text/javascript; charset=utf-8",
		"activity.js":   "text/javascript; charset=utf-8",
		"activity.css":  "text/css; charset=utf-8",
		"salesforce-lightning-design-system.min.css": "text/css; charset=utf-8",
		"icon.svg":               "image/svg+xml",
		"LICENSE-postmonger.txt": "text/plain; charset=utf-8",
		"LICENSE-slds.txt":       "text/plain; charset=utf-8",
	} {
		res := h.getAsset(activityBase+"/"+name, nil)
		if res.status != http.StatusOK || res.header.Get("Content-Type") != contentType {
			t.Errorf("%s: %d %q, want 200 %q", name, res.status, res.header.Get("Content-Type"), contentType)
			continue
		}
		etag := res.header.Get("ETag")
		if etag == "" || res.header.Get("Cache-Control") != "public, max-age=86400" || res.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s caching headers: %v", name, res.header)
		}
		if again := h.getAsset(activityBase+"/"+name, map[string]string{"If-None-Match": etag}); again.status != http.StatusNotModified || len(again.body) != 0 {
			t.Errorf("%s with If-None-Match: %d, want 304", name, again.status)
		}
		total += len(res.body)
	}
	if total > 1500<<10 {
		t.Errorf("the embedded assets weigh %d bytes, more than the budget of 1.5 MiB", total)
	}
}

func TestActivityUI_compressesTheStylesheet(t *testing.T) {
	h := startWithTenant(t)
	plain := h.getAsset(activityBase+"/salesforce-lightning-design-system.min.css", nil)
	zipped := h.getAsset(activityBase+"/salesforce-lightning-design-system.min.css", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if zipped.header.Get("Content-Encoding") != "gzip" || zipped.header.Get("ETag") == plain.header.Get("ETag") ||
		!strings.Contains(zipped.header.Get("Vary"), "Accept-Encoding") || len(zipped.body) > len(plain.body)/4 {
		t.Fatalf("gzip: %v, %d bytes of %d", zipped.header, len(zipped.body), len(plain.body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.body) {
		t.Fatalf("the gzipped stylesheet differs from the plain one (err %v)", err)
	}
	if refused := h.getAsset(activityBase+"/salesforce-lightning-design-system.min.css", map[string]string{"Accept-Encoding": "gzip;q=0"}); refused.header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 refuses gzip")
	}
}

func TestActivityUI_unknownFilesAre404(t *testing.T) {
	h := startWithTenant(t)
	for _, path := range []string{"/missing.js", "/..%2fserver.go", "/ui/index.html", "/THIRD_PARTY.md", "/index.htm"} {
		res := h.getAsset(activityBase+path, nil)
		if res.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.status)
		}
	}
	// The page's routes do not shadow the activity's calls.
	for _, call := range []string{"/execute", "/save", "/publish"} {
		if res := h.getAsset(activityBase+call, nil); res.status == http.StatusOK || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want a JSON error", call, res.status, res.header.Get("Content-Type"))
		}
	}
}
