package service_test

// A tenant's Apple settings through the admin API: Pass Type ID certificates from PEM and from an OpenSSL 3 .p12,
// their refusals, and versioned templates checked when they are put.

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/apple/appletest"
)

// templatePassJSON is a storeCard template whose points field and back field take the pass's data.
const templatePassJSON = `{
  "formatVersion": 1,
  "passTypeIdentifier": "pass.com.example.test",
  "teamIdentifier": "TEMPLATE",
  "organizationName": "Example",
  "description": "Loyalty card of {{email}}",
  "barcodes": [{"format": "PKBarcodeFormatQR", "message": "{{passId}}", "messageEncoding": "iso-8859-1"}],
  "storeCard": {
    "primaryFields": [{"key": "points", "label": "Points", "value": 0, "changeMessage": "You have %@ points"}],
    "backFields": [{"key": "member", "label": "Member", "value": "{{customId}}"}]
  }
}`

// templateZip zips a template's files.
func templateZip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func icon() []byte {
	b := make([]byte, 512)
	_, _ = rand.Read(b)
	return b
}

func goodTemplate(t *testing.T) []byte {
	return templateZip(t, map[string][]byte{"pass.json": []byte(templatePassJSON), "icon.png": icon()})
}

func certificateBody(t *testing.T, fields map[string]string) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pemCertificateBody(t *testing.T, pki *appletest.PKI, is *appletest.Issued) string {
	return certificateBody(t, map[string]string{"certificate": string(is.CertPEM), "privateKey": string(is.KeyPEM), "wwdr": string(pki.WWDR.CertPEM)})
}

// putCertificate adds the PKI's Pass Type ID certificate to the tenant.
func (h *harness) putCertificate(tenantID string, pki *appletest.PKI) {
	h.t.Helper()
	res := h.admin(http.MethodPut, "/api/admin/tenants/"+tenantID+"/apple/certificates/"+appletest.PassTypeID, pemCertificateBody(h.t, pki, pki.Pass))
	if res.status != http.StatusOK {
		h.t.Fatalf("PUT certificate: %d %s", res.status, res.body)
	}
}

func (h *harness) putTemplate(tenantID, passType, contentType string, zip []byte) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPut, h.url+"/api/admin/tenants/"+tenantID+"/templates/"+passType, bytes.NewReader(zip))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", contentType)
	return h.send(req)
}

// noSecret fails the test if body holds any line of the private key or the password.
func noSecret(t *testing.T, body []byte, is *appletest.Issued, password string) {
	t.Helper()
	for _, line := range strings.Split(string(is.KeyPEM), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && bytes.Contains(body, []byte(line)) {
			t.Fatalf("the answer holds a line of the private key: %s", body)
		}
	}
	if password != "" && bytes.Contains(body, []byte(password)) {
		t.Fatalf("the answer holds the .p12 password: %s", body)
	}
}

func TestAppleCertificate_addedFromPEMAndListedWithoutItsKey(t *testing.T) {
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)

	res := h.admin(http.MethodPut, "/api/admin/tenants/acme/apple/certificates/"+appletest.PassTypeID, pemCertificateBody(t, pki, pki.Pass))
	if res.status != http.StatusOK {
		t.Fatalf("PUT certificate: %d %s", res.status, res.body)
	}
	got := res.json(t)
	if got["passTypeIdentifier"] != appletest.PassTypeID || got["teamIdentifier"] != appletest.TeamID {
		t.Errorf("PUT answered %s", res.body)
	}
	noSecret(t, res.body, pki.Pass, "")

	list := h.admin(http.MethodGet, "/api/admin/tenants/acme/apple/certificates", "")
	if list.status != http.StatusOK {
		t.Fatalf("GET certificates: %d %s", list.status, list.body)
	}
	var body struct {
		Certificates []map[string]any `json:"certificates"`
	}
	if err := json.Unmarshal(list.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Certificates) != 1 || body.Certificates[0]["passTypeIdentifier"] != appletest.PassTypeID ||
		body.Certificates[0]["teamIdentifier"] != appletest.TeamID || body.Certificates[0]["expiresAt"] == nil ||
		!strings.Contains(body.Certificates[0]["subject"].(string), "UID="+appletest.PassTypeID) {
		t.Errorf("GET certificates = %s", list.body)
	}
	noSecret(t, list.body, pki.Pass, "")
	if bytes.Contains(list.body, []byte("PRIVATE KEY")) {
		t.Errorf("the list shows a key: %s", list.body)
	}
}

func TestAppleCertificate_addedFromAnOpenSSL3P12(t *testing.T) {
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)
	p12, _ := pki.P12(t, pki.Pass, false)
	res := h.admin(http.MethodPut, "/api/admin/tenants/acme/apple/certificates/"+appletest.PassTypeID, certificateBody(t, map[string]string{
		"p12": base64.StdEncoding.EncodeToString(p12), "password": appletest.P12Password, "wwdr": string(pki.WWDR.CertPEM),
	}))
	if res.status != http.StatusOK || res.json(t)["passTypeIdentifier"] != appletest.PassTypeID {
		t.Fatalf("PUT certificate from a .p12: %d %s", res.status, res.body)
	}
	noSecret(t, res.body, pki.Pass, appletest.P12Password)
}

func TestAppleCertificate_refusals(t *testing.T) {
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)
	p12, _ := pki.P12(t, pki.Pass, false)
	otherKey, _ := pki.OtherKeyPEM(t)
	path := "/api/admin/tenants/acme/apple/certificates/" + appletest.PassTypeID
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"another Pass Type ID in the path", "/api/admin/tenants/acme/apple/certificates/pass.com.example.other",
			pemCertificateBody(t, pki, pki.Pass), "pass.com.example.other"},
		{"a key that does not match", path, certificateBody(t, map[string]string{
			"certificate": string(pki.Pass.CertPEM), "privateKey": string(otherKey), "wwdr": string(pki.WWDR.CertPEM)}), "does not match"},
		{"an expired certificate", path, pemCertificateBody(t, pki, pki.Expired(t)), "expired"},
		{"not a Pass Type ID certificate", path, pemCertificateBody(t, pki, pki.NotPass(t)), "UID"},
		{"a wrong .p12 password", path, certificateBody(t, map[string]string{
			"p12": base64.StdEncoding.EncodeToString(p12), "password": "not-the-password", "wwdr": string(pki.WWDR.CertPEM)}), "password"},
		{"a WWDR that did not issue it", path, certificateBody(t, map[string]string{
			"certificate": string(pki.Pass.CertPEM), "privateKey": string(pki.Pass.KeyPEM), "wwdr": string(pki.OtherCA(t).CertPEM)}), "wwdr"},
		{"no WWDR", path, certificateBody(t, map[string]string{
			"certificate": string(pki.Pass.CertPEM), "privateKey": string(pki.Pass.KeyPEM)}), "WWDR"},
		{"nothing", path, `{}`, "p12"},
		{"bad base64", path, `{"p12":"%%%","wwdr":"x"}`, "base64"},
		{"malformed JSON", path, `{"privateKey":"-----BEGIN`, "malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.forTest(t).admin(http.MethodPut, tc.path, tc.body)
			if res.status != http.StatusBadRequest || res.errorCode(t) != "invalid_request" {
				t.Fatalf("%d %s, want 400 invalid_request", res.status, res.body)
			}
			if msg := res.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not say %q", msg, tc.want)
			}
			noSecret(t, res.body, pki.Pass, appletest.P12Password)
			noSecret(t, res.body, &appletest.Issued{KeyPEM: otherKey}, "not-the-password")
		})
	}
	if res := h.admin(http.MethodGet, "/api/admin/tenants/acme/apple/certificates", ""); !bytes.Contains(res.body, []byte(`"certificates":[]`)) {
		t.Errorf("after refusals only, GET certificates = %s", res.body)
	}
	if res := h.admin(http.MethodPut, "/api/admin/tenants/nobody/apple/certificates/"+appletest.PassTypeID, pemCertificateBody(t, pki, pki.Pass)); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Errorf("unknown tenant: %d %s", res.status, res.body)
	}
	if res := h.admin(http.MethodGet, "/api/admin/tenants/nobody/apple/certificates", ""); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Errorf("unknown tenant list: %d %s", res.status, res.body)
	}
	if res := h.do(http.MethodGet, "/api/admin/tenants/acme/apple/certificates", "", nil); res.status != http.StatusUnauthorized {
		t.Errorf("without the admin token: %d %s", res.status, res.body)
	}
}

func TestAppleTemplate_isVersionedAndCheckedWhenPut(t *testing.T) {
	h := startWithTenant(t)
	pki := appletest.NewPKI(t)

	// A template whose Pass Type ID has no certificate yet.
	res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t))
	if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "pass.json: passTypeIdentifier") {
		t.Fatalf("template without a certificate: %d %s", res.status, res.body)
	}

	h.putCertificate("acme", pki)
	for want := 1; want <= 2; want++ {
		res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t))
		if res.status != http.StatusOK {
			t.Fatalf("PUT template: %d %s", res.status, res.body)
		}
		if got := res.json(t); got["version"] != float64(want) || got["passTypeIdentifier"] != appletest.PassTypeID || got["style"] != "storeCard" {
			t.Errorf("PUT template #%d answered %s", want, res.body)
		}
	}

	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no icon", map[string][]byte{"pass.json": []byte(templatePassJSON)}, "icon.png"},
		{"invalid JSON", map[string][]byte{"pass.json": []byte(`{"passTypeIdentifier":`), "icon.png": icon()}, "pass.json: invalid JSON"},
		{"two styles", map[string][]byte{"pass.json": []byte(`{"passTypeIdentifier":"pass.com.example.test","coupon":{},"generic":{}}`), "icon.png": icon()}, "pass.json: style"},
		{"no passTypeIdentifier", map[string][]byte{"pass.json": []byte(`{"generic":{}}`), "icon.png": icon()}, "pass.json: passTypeIdentifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.forTest(t).putTemplate("acme", "loyalty", "application/zip", templateZip(t, tc.files))
			if res.status != http.StatusBadRequest || res.errorCode(t) != "invalid_request" || !strings.Contains(string(res.body), tc.want) {
				t.Errorf("%d %s, want 400 naming %q", res.status, res.body, tc.want)
			}
		})
	}
	if res := h.putTemplate("acme", "loyalty", "application/zip", []byte("not a zip")); res.status != http.StatusBadRequest {
		t.Errorf("not a zip: %d %s", res.status, res.body)
	}
	if res := h.putTemplate("acme", "loyalty", "application/json", goodTemplate(t)); res.status != http.StatusUnsupportedMediaType {
		t.Errorf("JSON content type: %d %s", res.status, res.body)
	}
	big := make([]byte, 10<<20+1)
	if res := h.putTemplate("acme", "loyalty", "application/zip", big); res.status != http.StatusRequestEntityTooLarge || res.errorCode(t) != "body_too_large" {
		t.Errorf("11 MiB: %d %s", res.status, res.body)
	}
	if res := h.putTemplate("nobody", "loyalty", "application/zip", goodTemplate(t)); res.status != http.StatusNotFound || res.errorCode(t) != "unknown_tenant" {
		t.Errorf("unknown tenant: %d %s", res.status, res.body)
	}
	// The refusals made no version.
	if res := h.putTemplate("acme", "loyalty", "application/zip", goodTemplate(t)); res.json(t)["version"] != float64(3) {
		t.Errorf("third good put answered %s, want version 3", res.body)
	}
}
