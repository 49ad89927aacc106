package httpport

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/ports/http/httperr"
)

// uiAssetRoute matches a configuration page's files, and the bare base path for its index.html.
const uiAssetRoute = "/{asset:|[A-Za-z0-9_.-]+\\.(?:html|js|css|svg|txt)}"

// The configuration pages that Journey Builder shows in its modal, with what they load: pushupdate's in ui/,
// the passcheck split's in ui/passcheck/. postmonger.js and salesforce-lightning-design-system.min.css are copied
// unchanged from their npm packages (see ui/THIRD_PARTY.md).
//
//go:embed ui/*.html ui/*.js ui/*.css ui/*.svg ui/*.txt ui/passcheck/*.html ui/passcheck/*.js ui/passcheck/*.css ui/parts/*.html
var activityUIFiles embed.FS

// zeroTime makes http.ServeContent skip Last-Modified: the ETag does its job.
var zeroTime time.Time

// uiAsset is one embedded file, ready to serve.
type uiAsset struct {
	contentType  string
	cacheControl string
	body         []byte
	etag         string
	// gzipped is the body compressed, when that saves much (the SLDS stylesheet shrinks about tenfold).
	gzipped     []byte
	gzippedETag string
}

// uiPage is one configuration page's files by name, as served under its activity's base path.
type uiPage map[string]*uiAsset

// sharedUIAssets are the files of ui/ that every page loads beside its own: one copy in the binary, one ETag, so
// a browser that cached them for one activity has them for the other.
var sharedUIAssets = []string{
	"postmonger.js", "journey.js", "salesforce-lightning-design-system.min.css", "icon.svg", "LICENSE-postmonger.txt", "LICENSE-slds.txt",
}

// pushUpdatePage is every file of ui/; passCheckPage is ui/passcheck/ with the shared files. Both are loaded once.
var (
	pushUpdatePage = loadUIPage("ui")
	passCheckPage  = withSharedAssets(loadUIPage("ui/passcheck"), pushUpdatePage)
)

// withSharedAssets adds the shared files of from to page.
func withSharedAssets(page, from uiPage) uiPage {
	for _, name := range sharedUIAssets {
		shared, ok := from[name]
		if !ok {
			panic("activity UI: the shared file " + name + " is not embedded")
		}
		if _, own := page[name]; !own {
			page[name] = shared
		}
	}
	return page
}

// loadUIPage reads the files directly in dir (not its subfolders, which are other pages).
func loadUIPage(dir string) uiPage {
	entries, err := fs.ReadDir(activityUIFiles, dir)
	if err != nil {
		panic(err)
	}
	assets := uiPage{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := activityUIFiles.ReadFile(dir + "/" + e.Name())
		if err != nil {
			panic(err)
		}
		if e.Name() == "index.html" {
			body = withUIParts(dir, body)
		}
		a := &uiAsset{
			contentType: contentTypes[path.Ext(e.Name())],
			// The page itself is revalidated on every load, so a new release shows at once; what it loads is
			// cached for a day and revalidated with the ETag after that.
			cacheControl: "public, max-age=86400",
			body:         body,
			etag:         etagOf(body, ""),
		}
		if e.Name() == "index.html" {
			a.cacheControl = "no-cache"
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body)*3/4 {
			a.gzipped, a.gzippedETag = buf.Bytes(), etagOf(body, "-gzip")
		}
		assets[e.Name()] = a
	}
	return assets
}

// withUIParts fills a page with the parts that the pages share (ui/parts/), so each is written once. The
// delimiters are [[ ]]: {{ }} is Journey Builder's data binding syntax, which the pages show as text.
func withUIParts(dir string, page []byte) []byte {
	t, err := template.New(dir).Delims("[[", "]]").ParseFS(activityUIFiles, "ui/parts/*.html")
	if err == nil {
		t, err = t.Parse(string(page))
	}
	var b bytes.Buffer
	if err == nil {
		err = t.Execute(&b, nil)
	}
	if err != nil {
		panic("activity UI: " + dir + "/index.html: " + err.Error())
	}
	return b.Bytes()
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

func etagOf(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + suffix + `"`
}

// activityUIPolicy keeps the page to its own scripts and styles. frame-ancestors lets only Marketing Cloud
// (PASSPUSH_FRAME_ANCESTORS) frame it, so another site cannot show it and click through it.
const activityUIPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors "

// activityUI serves pushupdate's configuration page at {base}/ and {base}/index.html, and the files it loads.
func (s server) activityUI(w http.ResponseWriter, r *http.Request) {
	s.serveUIPage(w, r, pushUpdatePage)
}

// passCheckUI serves the "Wallet pass?" split's configuration page and its files under the passcheck base path.
func (s server) passCheckUI(w http.ResponseWriter, r *http.Request) {
	s.serveUIPage(w, r, passCheckPage)
}

// serveUIPage serves the file of page that the route's {asset} names, index.html for none.
func (s server) serveUIPage(w http.ResponseWriter, r *http.Request, page uiPage) {
	name := mux.Vars(r)["asset"]
	if name == "" {
		name = "index.html"
	}
	a, ok := page[name]
	if !ok {
		s.respondError(w, r, httperr.NotFound("no such file"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	allowAnyOrigin(w)
	if name == "index.html" {
		h.Set("Content-Security-Policy", activityUIPolicy+s.config.FrameAncestors)
		h.Set("Referrer-Policy", "no-referrer")
	}
	body, etag := a.body, a.etag
	if a.gzipped != nil && acceptsGzip(r) {
		body, etag = a.gzipped, a.gzippedETag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
