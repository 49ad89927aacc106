package service_test

// Install links: a link made through the admin API downloads the pass, signed and built from the pass's current
// data and its type's latest template; a tampered or expired link is refused.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple/appletest"
)

// appleTenant is acme with the PKI's certificate, the loyalty template and the pass p-1.
func appleTenant(t *testing.T) (*harness, *appletest.PKI) {
	t.Helper()
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)
	h.putCertificate("acme", pki)
	if res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t)); res.status != http.StatusOK {
		t.Fatalf("PUT template: %d %s", res.status, res.body)
	}
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"120"}}`)
	return h, pki
}

func (h *harness) makeLink(tenantID, passID, body string) (string, time.Time) {
	h.t.Helper()
	res := h.admin(http.MethodPost, "/api/"+tenantID+"/passes/"+passID+"/links", body)
	if res.status != http.StatusCreated {
		h.t.Fatalf("POST links: %d %s", res.status, res.body)
	}
	var link struct {
		Apple     string    `json:"apple"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(res.body, &link); err != nil {
		h.t.Fatal(err)
	}
	return link.Apple, link.ExpiresAt
}

// get fetches an absolute URL without any token.
func (h *harness) get(rawURL string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.send(req)
}

// pkpassFiles unzips a pass.
func pkpassFiles(t *testing.T, pkpass []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		t.Fatalf("the pass is not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	return files
}

// verifyWithOpenSSL checks the pass's signature over its manifest against the test root, as Wallet does against
// Apple's.
func verifyWithOpenSSL(t *testing.T, pki *appletest.PKI, files map[string][]byte) {
	t.Helper()
	if !appletest.HasOpenSSL() {
		t.Log("no openssl command line: the signature is not checked")
		return
	}
	dir := t.TempDir()
	sig, manifest := filepath.Join(dir, "signature"), filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(sig, files["signature"], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, files["manifest.json"], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", manifest,
		"-CAfile", pki.Root.CertFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl smime -verify: %v: %s", err, out)
	}
}

type passJSON struct {
	SerialNumber        string `json:"serialNumber"`
	PassTypeIdentifier  string `json:"passTypeIdentifier"`
	TeamIdentifier      string `json:"teamIdentifier"`
	WebServiceURL       string `json:"webServiceURL"`
	AuthenticationToken string `json:"authenticationToken"`
	Description         string `json:"description"`
	StoreCard           struct {
		PrimaryFields []map[string]any `json:"primaryFields"`
		BackFields    []map[string]any `json:"backFields"`
	} `json:"storeCard"`
}

func readPassJSON(t *testing.T, files map[string][]byte) passJSON {
	t.Helper()
	var p passJSON
	if err := json.Unmarshal(files["pass.json"], &p); err != nil {
		t.Fatalf("pass.json: %v", err)
	}
	return p
}

func TestInstallLink_downloadsTheSignedPassWithItsCurrentData(t *testing.T) {
	h, pki := appleTenant(t)
	link, expiresAt := h.makeLink("acme", "p-1", "")
	if !strings.HasPrefix(link, h.url+"/api/acme/apple/passes/p-1.pkpass?") {
		t.Fatalf("link %s", link)
	}
	if d := time.Until(expiresAt); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("a link expires at %s by default, want in 30 days", expiresAt)
	}

	res := h.get(link)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/vnd.apple.pkpass" || res.header.Get("Last-Modified") == "" {
		t.Fatalf("GET link: %d %v %s", res.status, res.header, res.body)
	}
	files := pkpassFiles(t, res.body)
	for _, name := range []string{"pass.json", "icon.png", "manifest.json", "signature"} {
		if _, ok := files[name]; !ok {
			t.Errorf("the pass has no %s", name)
		}
	}
	verifyWithOpenSSL(t, pki, files)
	p := readPassJSON(t, files)
	if p.SerialNumber != "p-1" || p.PassTypeIdentifier != appletest.PassTypeID || p.TeamIdentifier != appletest.TeamID ||
		p.WebServiceURL != "/api/acme/apple" || len(p.AuthenticationToken) < 32 || p.Description != "Loyalty card of ann@example.com" {
		t.Errorf("pass.json = %s", files["pass.json"])
	}
	if v := p.StoreCard.PrimaryFields[0]["value"]; v != float64(120) {
		t.Errorf("points = %v, want 120", v)
	}
	if v := p.StoreCard.BackFields[0]["value"]; v != "c-1" {
		t.Errorf("member = %v, want c-1", v)
	}

	// The pass changes: the same link serves the new data, with the same token.
	h.putPass("acme", "p-1", `{"passType":"loyalty","email":"ann@example.com","customId":"c-1","data":{"points":"150"}}`)
	again := readPassJSON(t, pkpassFiles(t, h.get(link).body))
	if v := again.StoreCard.PrimaryFields[0]["value"]; v != float64(150) {
		t.Errorf("after the change, points = %v, want 150", v)
	}
	if again.AuthenticationToken != p.AuthenticationToken {
		t.Error("the authenticationToken changed")
	}

	// The admin downloads the same pass without a link.
	admin := h.admin(http.MethodGet, "/api/acme/passes/p-1/pass.pkpass", "")
	if admin.status != http.StatusOK || admin.header.Get("Content-Type") != "application/vnd.apple.pkpass" {
		t.Fatalf("admin GET pass.pkpass: %d %s", admin.status, admin.body)
	}
	if v := readPassJSON(t, pkpassFiles(t, admin.body)).StoreCard.PrimaryFields[0]["value"]; v != float64(150) {
		t.Errorf("admin download: points = %v, want 150", v)
	}
	if res := h.do(http.MethodGet, "/api/acme/passes/p-1/pass.pkpass", "", nil); res.status != http.StatusUnauthorized {
		t.Errorf("pass.pkpass without the admin token: %d", res.status)
	}
}

func TestInstallLink_aNewTemplateAppliesToTheNextDownload(t *testing.T) {
	h, _ := appleTenant(t)
	link, _ := h.makeLink("acme", "p-1", "")
	before := readPassJSON(t, pkpassFiles(t, h.get(link).body))
	v2 := strings.Replace(templatePassJSON, "Loyalty card of {{email}}", "Gold card of {{email}}", 1)
	if res := h.putTemplate("acme", "loyalty", "application/zip", templateZip(t, map[string][]byte{"pass.json": []byte(v2), "icon.png": icon()})); res.status != http.StatusOK {
		t.Fatalf("PUT template v2: %d %s", res.status, res.body)
	}
	after := readPassJSON(t, pkpassFiles(t, h.get(link).body))
	if before.Description != "Loyalty card of ann@example.com" || after.Description != "Gold card of ann@example.com" {
		t.Errorf("descriptions %q then %q", before.Description, after.Description)
	}
}

func TestInstallLink_tamperedOrExpiredIsForbidden(t *testing.T) {
	h, _ := appleTenant(t)
	h.putPass("acme", "p-2", `{"passType":"loyalty","email":"bob@example.com"}`)
	link, _ := h.makeLink("acme", "p-1", "")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	with := func(path string, change func(url.Values)) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		change(v)
		return h.url + path + "?" + v.Encode()
	}
	sig := q.Get("sig")
	flipped := "0"
	if sig[0] == '0' {
		flipped = "1"
	}
	for name, tampered := range map[string]string{
		"another signature":     with(u.Path, func(v url.Values) { v.Set("sig", flipped+sig[1:]) }),
		"a later expiry":        with(u.Path, func(v url.Values) { v.Set("expires", "99999999999") }),
		"another pass":          with("/api/acme/apple/passes/p-2.pkpass", func(url.Values) {}),
		"no signature":          with(u.Path, func(v url.Values) { v.Del("sig") }),
		"no expiry":             with(u.Path, func(v url.Values) { v.Del("expires") }),
		"a signature not hex":   with(u.Path, func(v url.Values) { v.Set("sig", "zz") }),
		"an expiry not numeric": with(u.Path, func(v url.Values) { v.Set("expires", "soon") }),
	} {
		res := h.get(tampered)
		if res.status != http.StatusForbidden || res.errorCode(t) != "forbidden" {
			t.Errorf("%s: %d %s, want 403 forbidden", name, res.status, res.body)
		}
	}
	// Another tenant's link key does not open acme's passes.
	h.addTenant("globex")
	h.putPass("globex", "p-1", `{"passType":"loyalty"}`)
	globex, _ := h.makeLink("globex", "p-1", "")
	gu, _ := url.Parse(globex)
	if res := h.get(h.url + "/api/acme/apple/passes/p-1.pkpass?" + gu.RawQuery); res.status != http.StatusForbidden {
		t.Errorf("globex's link on acme's pass: %d", res.status)
	}

	short, _ := h.makeLink("acme", "p-1", `{"ttl":"1s"}`)
	if res := h.get(short); res.status != http.StatusOK {
		t.Fatalf("a fresh 1s link: %d %s", res.status, res.body)
	}
	eventually(t, 5*time.Second, "the 1s link expires", func() bool { return h.get(short).status == http.StatusForbidden })

	for _, body := range []string{`{"ttl":"-1h"}`, `{"ttl":"soon"}`, `{"ttl":"10000h"}`} {
		if res := h.admin(http.MethodPost, "/api/acme/passes/p-1/links", body); res.status != http.StatusBadRequest {
			t.Errorf("POST links %s: %d %s", body, res.status, res.body)
		}
	}
	if res := h.admin(http.MethodPost, "/api/acme/passes/nobody/links", ""); res.status != http.StatusNotFound {
		t.Errorf("link to an unknown pass: %d %s", res.status, res.body)
	}
	if res := h.get(h.url + "/api/nobody/apple/passes/p-1.pkpass?" + u.RawQuery); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Errorf("link of an unknown tenant: %d %s", res.status, res.body)
	}
}

func TestInstallLink_routesKeepMethodNotAllowed(t *testing.T) {
	h, _ := appleTenant(t)
	for _, path := range []string{"/api/acme/passes/p-1", "/api/acme/passes/p-1/links", "/api/acme/passes/p-1/pass.pkpass"} {
		if res := h.admin(http.MethodDelete, path, ""); res.status != http.StatusMethodNotAllowed {
			t.Errorf("DELETE %s: %d %s, want 405", path, res.status, res.body)
		}
	}
}

func TestApplePass_withoutATemplateIsNotConfigured(t *testing.T) {
	h := startWithTenant(t)
	h.putPass("acme", "p-1", `{"passType":"loyalty"}`)
	res := h.admin(http.MethodGet, "/api/acme/passes/p-1/pass.pkpass", "")
	if res.status != http.StatusNotFound || res.errorCode(t) != "apple_not_configured" {
		t.Errorf("%d %s, want 404 apple_not_configured", res.status, res.body)
	}
}
