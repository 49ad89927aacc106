package apple_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/apple/appletest"
	"github.com/passpush/passpush/domain/applepass"
)

const testPassJSON = `{
  "formatVersion": 1,
  "passTypeIdentifier": "pass.com.example.test",
  "teamIdentifier": "TEMPLATE",
  "organizationName": "Example",
  "description": "{{brand}} loyalty card",
  "barcodes": [{"format": "PKBarcodeFormatQR", "message": "{{passId}}", "messageEncoding": "iso-8859-1"}],
  "storeCard": {
    "primaryFields": [{"key": "points", "label": "Points", "value": 0, "changeMessage": "You have %@ points"}],
    "backFields": [{"key": "terms", "label": "Terms", "value": "Card of {{email}}"}]
  }
}`

// randomBytes stands in for a PNG: already compressed, so incompressible.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func testTemplate(t testing.TB) applepass.Template {
	t.Helper()
	tpl, err := applepass.ParseTemplate(map[string][]byte{
		"pass.json":             []byte(testPassJSON),
		"icon.png":              randomBytes(3 << 10),
		"icon@2x.png":           randomBytes(8 << 10),
		"logo.png":              randomBytes(10 << 10),
		"logo@2x.png":           randomBytes(20 << 10),
		"strip@2x.png":          randomBytes(60 << 10),
		"fr.lproj/pass.strings": []byte(`"Points" = "Points";` + "\n" + `"Terms" = "Conditions";`),
		"fr.lproj/logo.png":     randomBytes(4 << 10),
	})
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	return tpl
}

func loadCertificate(t testing.TB, pki *appletest.PKI) apple.Certificate {
	t.Helper()
	c, _, err := apple.LoadPEM(pki.Pass.CertPEM, pki.Pass.KeyPEM, pki.WWDR.CertPEM, time.Now())
	if err != nil {
		t.Fatalf("LoadPEM: %v", err)
	}
	return c
}

func renderPass(t testing.TB, tpl applepass.Template, c apple.Certificate, serial, message string) []byte {
	t.Helper()
	passJSON, err := applepass.Render(tpl, applepass.PassData{
		SerialNumber:        serial,
		PassTypeIdentifier:  c.PassTypeID,
		TeamIdentifier:      c.TeamID,
		WebServiceURL:       "https://passpush.example/api/t1/apple",
		AuthenticationToken: strings.Repeat("t", 32),
		Data:                map[string]string{"email": "ann@example.com", "brand": "Acme", "points": "120"},
		Message:             message,
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return passJSON
}

func unzip(t *testing.T, pkpass []byte) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		t.Fatalf("the pass is not a zip: %v", err)
	}
	files := map[string][]byte{}
	var order []string
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
		if _, dup := files[f.Name]; dup {
			t.Errorf("%s twice in the pass", f.Name)
		}
		files[f.Name] = b
		order = append(order, f.Name)
	}
	return files, order
}

// opensslVerify checks signature over content against the test root, as Wallet checks it against Apple's.
func opensslVerify(t *testing.T, dir string, signature, content []byte, rootFile string) error {
	t.Helper()
	sigFile, contentFile := filepath.Join(dir, "signature"), filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(sigFile, signature, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(contentFile, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
		"-content", contentFile, "-CAfile", rootFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	return nil
}

func TestBuild_makesAPassThatOpenSSLVerifies(t *testing.T) {
	if !appletest.HasOpenSSL() {
		t.Skip("no openssl command line")
	}
	pki := appletest.NewPKI(t)
	tpl := testTemplate(t)
	c := loadCertificate(t, pki)
	passJSON := renderPass(t, tpl, c, "P-1", "Double points this week")
	pkpass, err := apple.Build(tpl, passJSON, c, time.Now())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}

	files, order := unzip(t, pkpass)
	if order[0] != "pass.json" || order[len(order)-2] != "manifest.json" || order[len(order)-1] != "signature" {
		t.Errorf("zip order = %v", order)
	}
	if !bytes.Equal(files["pass.json"], passJSON) {
		t.Error("pass.json in the pass is not the rendered one")
	}
	var manifest map[string]string
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	wantNames := append(tpl.FileNames(), "pass.json")
	if len(manifest) != len(wantNames) || len(files) != len(wantNames)+2 {
		t.Errorf("manifest has %d entries and the zip %d files, want %d and %d", len(manifest), len(files), len(wantNames), len(wantNames)+2)
	}
	for _, name := range wantNames {
		sum := sha1.Sum(files[name])
		if got := manifest[name]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("manifest[%s] = %q, want the SHA-1 of the file", name, got)
		}
		if b, ok := tpl.File(name); ok && !bytes.Equal(b, files[name]) {
			t.Errorf("%s differs from the template's", name)
		}
	}

	dir := t.TempDir()
	if err := opensslVerify(t, dir, files["signature"], files["manifest.json"], pki.Root.CertFile); err != nil {
		t.Fatalf("openssl smime -verify: %v", err)
	}
	tampered := bytes.Replace(files["manifest.json"], []byte(manifest["pass.json"]), []byte(strings.Repeat("0", 40)), 1)
	if err := opensslVerify(t, dir, files["signature"], tampered, pki.Root.CertFile); err == nil {
		t.Fatal("openssl verified the signature over a tampered manifest")
	} else if !strings.Contains(err.Error(), "digest failure") {
		t.Logf("tampered manifest: %v", err)
	}
	other := pki.OtherCA(t)
	if err := opensslVerify(t, dir, files["signature"], files["manifest.json"], other.CertFile); err == nil {
		t.Fatal("openssl verified the signature against a root that did not issue the chain")
	}
}

func TestBuild_signatureCarriesTheChainAndASigningTime(t *testing.T) {
	pki := appletest.NewPKI(t)
	tpl := testTemplate(t)
	c := loadCertificate(t, pki)
	before := time.Now().Add(-time.Second).Truncate(time.Second)
	pkpass, err := apple.Build(tpl, renderPass(t, tpl, c, "P-2", ""), c, time.Time{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files, _ := unzip(t, pkpass)
	p7, err := pkcs7.Parse(files["signature"])
	if err != nil {
		t.Fatalf("parse signature: %v", err)
	}
	if len(p7.Content) != 0 {
		t.Error("the signature is not detached")
	}
	if len(p7.Certificates) != 2 || !p7.Certificates[0].Equal(pki.Pass.Cert) || !p7.Certificates[1].Equal(pki.WWDR.Cert) {
		t.Errorf("signature carries %d certificates, want the pass certificate and the WWDR", len(p7.Certificates))
	}
	p7.Content = files["manifest.json"]
	if err := p7.Verify(); err != nil {
		t.Errorf("pkcs7 Verify: %v", err)
	}
	var signedAt time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signedAt); err != nil {
		t.Fatalf("signing time: %v", err)
	}
	if signedAt.Before(before) || signedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("signing time = %v, want about now", signedAt)
	}
}

func TestBuild_refusesACertificateThatIsNotValidAtTheSigningTime(t *testing.T) {
	pki := appletest.NewPKI(t)
	tpl := testTemplate(t)
	c := loadCertificate(t, pki)
	passJSON := renderPass(t, tpl, c, "P-3", "")
	if _, err := apple.Build(tpl, passJSON, c, c.NotAfter.Add(time.Minute)); !errors.Is(err, apple.ErrExpired) {
		t.Errorf("err = %v, want ErrExpired", err)
	}
	if _, err := apple.Build(tpl, passJSON, apple.Certificate{}, time.Now()); !errors.Is(err, apple.ErrInvalidCertificate) {
		t.Errorf("zero certificate: err = %v, want ErrInvalidCertificate", err)
	}
	if _, err := apple.Build(tpl, nil, c, time.Now()); err == nil {
		t.Error("Build accepted an empty pass.json")
	}
}

func TestBuild_ofAnECCertificateVerifies(t *testing.T) {
	if !appletest.HasOpenSSL() {
		t.Skip("no openssl command line")
	}
	pki := appletest.NewPKI(t)
	ec := pki.IssuePass(t, "ec", appletest.PassOptions{KeyType: "ec"})
	c, _, err := apple.LoadPEM(ec.CertPEM, ec.KeyPEM, pki.WWDR.CertPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tpl := testTemplate(t)
	pkpass, err := apple.Build(tpl, renderPass(t, tpl, c, "P-4", ""), c, time.Now())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files, _ := unzip(t, pkpass)
	if err := opensslVerify(t, t.TempDir(), files["signature"], files["manifest.json"], pki.Root.CertFile); err != nil {
		t.Fatalf("openssl smime -verify: %v", err)
	}
}

// BenchmarkBuild renders, packs and signs a pass per iteration, with nothing cached: "cold" passes.
// go test -run '^$' -bench BenchmarkBuild -cpu 2 ./adapters/apple/
func BenchmarkBuild(b *testing.B) {
	pki := appletest.NewPKI(b)
	tpl := testTemplate(b)
	c := loadCertificate(b, pki)
	b.ReportAllocs()
	cpu0, haveCPU := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			passJSON := renderPass(b, tpl, c, "P-bench", "Double points this week")
			if _, err := apple.Build(tpl, passJSON, c, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
	// On a shared machine the wall-clock rate says more about the neighbours than about Build: the process's CPU
	// time per pass says what a core can do (2 cores: 2000 / cpu-ms/pass passes/s).
	if cpu1, ok := processCPU(); ok && haveCPU {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/pass")
	}
}

func TestBuild_deflatesLargeTextFilesAndStoresImages(t *testing.T) {
	pki := appletest.NewPKI(t)
	c := loadCertificate(t, pki)
	strings16k := strings.Repeat(`"Points" = "Points de fidélité";`+"\n", 500)
	tpl, err := applepass.ParseTemplate(map[string][]byte{
		"pass.json": []byte(testPassJSON), "icon.png": randomBytes(1 << 10), "fr.lproj/pass.strings": []byte(strings16k),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the second and third builds reuse pooled deflaters
		pkpass, err := apple.Build(tpl, renderPass(t, tpl, c, fmt.Sprint("P-", i), ""), c, time.Now())
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			want := zip.Store
			if f.Name == "fr.lproj/pass.strings" {
				want = zip.Deflate
			}
			if f.Method != want {
				t.Errorf("%s: method %d, want %d", f.Name, f.Method, want)
			}
		}
		files, _ := unzip(t, pkpass)
		if string(files["fr.lproj/pass.strings"]) != strings16k {
			t.Error("fr.lproj/pass.strings does not unpack to the template's")
		}
	}
}
