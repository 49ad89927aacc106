package apple_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/apple/appletest"
)

func TestLoadPEM_readsThePassTypeIDAndTheTeam(t *testing.T) {
	pki := appletest.NewPKI(t)
	for _, keyType := range []string{"rsa", "rsa-pkcs1", "ec", "ec-pkcs8"} {
		t.Run(keyType, func(t *testing.T) {
			is := pki.IssuePass(t, "pass-"+keyType, appletest.PassOptions{KeyType: keyType})
			c, warning, err := apple.LoadPEM(is.CertPEM, is.KeyPEM, pki.WWDR.CertPEM, time.Now())
			if err != nil {
				t.Fatalf("LoadPEM: %v", err)
			}
			if warning != nil {
				t.Errorf("warning = %v, want none a year from expiry", warning)
			}
			if c.PassTypeID != appletest.PassTypeID || c.TeamID != appletest.TeamID {
				t.Errorf("PassTypeID, TeamID = %q, %q", c.PassTypeID, c.TeamID)
			}
			if !c.NotAfter.Equal(is.Cert.NotAfter) || !c.WWDR.Equal(pki.WWDR.Cert) || !c.Leaf.Equal(is.Cert) {
				t.Errorf("certificate = %v", c)
			}
			want := "UID=pass.com.example.test"
			if !strings.Contains(c.Subject, want) || !strings.Contains(c.Subject, "OU=TEAMID1234") {
				t.Errorf("Subject = %q, want it to name %s and the OU", c.Subject, want)
			}
		})
	}
}

func TestLoadPEM_acceptsADERWWDRAndABundle(t *testing.T) {
	pki := appletest.NewPKI(t)
	bundle := append(append([]byte{}, pki.Root.CertPEM...), pki.WWDR.CertPEM...)
	for name, wwdr := range map[string][]byte{"DER": pki.WWDR.Cert.Raw, "bundle": bundle} {
		c, _, err := apple.LoadPEM(pki.Pass.CertPEM, pki.Pass.KeyPEM, wwdr, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !c.WWDR.Equal(pki.WWDR.Cert) {
			t.Errorf("%s: WWDR = %s", name, c.WWDR.Subject)
		}
	}
}

func TestLoadP12_readsOpenSSL3AndLegacyFiles(t *testing.T) {
	pki := appletest.NewPKI(t)
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			p12, _ := pki.P12(t, pki.Pass, legacy)
			c, _, err := apple.LoadP12(p12, appletest.P12Password, pki.WWDR.CertPEM, time.Now())
			if err != nil {
				t.Fatalf("LoadP12: %v", err)
			}
			if c.PassTypeID != appletest.PassTypeID || c.TeamID != appletest.TeamID || !c.Leaf.Equal(pki.Pass.Cert) {
				t.Errorf("certificate = %v", c)
			}
			// Without a WWDR file, the .p12's own chain supplies it.
			c, _, err = apple.LoadP12(p12, appletest.P12Password, nil, time.Now())
			if err != nil || !c.WWDR.Equal(pki.WWDR.Cert) {
				t.Errorf("LoadP12 without a WWDR: %v, %v", c, err)
			}
		})
	}
}

func TestLoadP12_andLoadPEM_refuse(t *testing.T) {
	pki := appletest.NewPKI(t)
	otherKey, _ := pki.OtherKeyPEM(t)
	expired := pki.Expired(t)
	notPass := pki.NotPass(t)
	noTeam := pki.IssuePass(t, "noteam", appletest.PassOptions{TeamID: "-"})
	noUID := pki.IssuePass(t, "nouid", appletest.PassOptions{UID: "-"})
	future := pki.IssuePass(t, "future", appletest.PassOptions{NotBefore: time.Now().Add(48 * time.Hour)})
	otherCA := pki.OtherCA(t)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})
	now := time.Now()

	type load func() (apple.Certificate, *apple.ExpiryWarning, error)
	pemLoad := func(cert, key, wwdr []byte) load {
		return func() (apple.Certificate, *apple.ExpiryWarning, error) { return apple.LoadPEM(cert, key, wwdr, now) }
	}
	type refusal struct {
		name     string
		load     load
		want     error
		contains string
	}
	cases := []refusal{
		{"key does not match", pemLoad(pki.Pass.CertPEM, otherKey, pki.WWDR.CertPEM), apple.ErrKeyMismatch, "does not match"},
		{"expired", pemLoad(expired.CertPEM, expired.KeyPEM, pki.WWDR.CertPEM), apple.ErrExpired, "expired on"},
		{"not yet valid", pemLoad(future.CertPEM, future.KeyPEM, pki.WWDR.CertPEM), apple.ErrNotYetValid, "valid from"},
		{"UID not pass.", pemLoad(notPass.CertPEM, notPass.KeyPEM, pki.WWDR.CertPEM), apple.ErrNotPassTypeID, `UID starting with "pass."`},
		{"no UID", pemLoad(noUID.CertPEM, noUID.KeyPEM, pki.WWDR.CertPEM), apple.ErrNotPassTypeID, `UID starting with "pass."`},
		{"no OU", pemLoad(noTeam.CertPEM, noTeam.KeyPEM, pki.WWDR.CertPEM), apple.ErrNotPassTypeID, "subject OU"},
		{"WWDR is garbage", pemLoad(pki.Pass.CertPEM, pki.Pass.KeyPEM, []byte("not a certificate")), apple.ErrInvalidWWDR, "wwdr: no certificate"},
		{"WWDR is empty", pemLoad(pki.Pass.CertPEM, pki.Pass.KeyPEM, nil), apple.ErrInvalidWWDR, "wwdr"},
		{"WWDR did not issue it", pemLoad(pki.Pass.CertPEM, pki.Pass.KeyPEM, otherCA.CertPEM), apple.ErrInvalidWWDR, "did not issue"},
		{"WWDR is the root", pemLoad(pki.Pass.CertPEM, pki.Pass.KeyPEM, pki.Root.CertPEM), apple.ErrInvalidWWDR, "did not issue"},
		{"WWDR is not a CA", pemLoad(pki.Pass.CertPEM, pki.Pass.KeyPEM, pki.Pass.CertPEM), apple.ErrInvalidWWDR, "did not issue"},
		{"no key", pemLoad(pki.Pass.CertPEM, pki.Pass.CertPEM, pki.WWDR.CertPEM), apple.ErrInvalidCertificate, "no PEM private key"},
		{"encrypted key", pemLoad(pki.Pass.CertPEM, encrypted, pki.WWDR.CertPEM), apple.ErrInvalidCertificate, "encrypted keys are not supported"},
		{"no certificate", pemLoad(pki.Pass.KeyPEM, pki.Pass.KeyPEM, pki.WWDR.CertPEM), apple.ErrInvalidCertificate, "certificate: no certificate"},
	}
	if appletest.HasOpenSSL() {
		p12, _ := pki.P12(t, pki.Pass, false)
		expiredP12, _ := pki.P12(t, expired, false)
		p12Load := func(b []byte, password string, wwdr []byte) load {
			return func() (apple.Certificate, *apple.ExpiryWarning, error) { return apple.LoadP12(b, password, wwdr, now) }
		}
		cases = append(cases,
			refusal{"p12 wrong password", p12Load(p12, "wrong-"+appletest.P12Password, pki.WWDR.CertPEM), apple.ErrWrongPassword, "password does not open"},
			refusal{"p12 expired", p12Load(expiredP12, appletest.P12Password, pki.WWDR.CertPEM), apple.ErrExpired, "expired on"},
			refusal{"p12 wrong WWDR", p12Load(p12, appletest.P12Password, otherCA.CertPEM), apple.ErrInvalidWWDR, "did not issue"},
			refusal{"p12 garbage", p12Load([]byte("garbage"), appletest.P12Password, pki.WWDR.CertPEM), apple.ErrInvalidCertificate, "p12: not a PKCS#12"},
		)
	}
	secrets := [][]byte{otherKey, pki.Pass.KeyPEM, expired.KeyPEM, []byte(appletest.P12Password)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := tc.load()
			if !errors.Is(err, tc.want) || !errors.Is(err, apple.ErrInvalidCertificate) {
				t.Fatalf("err = %v, want %v and ErrInvalidCertificate", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to say %q", err, tc.contains)
			}
			if c.Leaf != nil {
				t.Errorf("a refusal returned a certificate: %v", c)
			}
			assertNoSecret(t, err.Error(), secrets...)
		})
	}
}

func TestLoadPEM_warnsWithin30DaysOfExpiry(t *testing.T) {
	pki := appletest.NewPKI(t)
	soon := pki.ExpiringSoon(t)
	c, warning, err := apple.LoadPEM(soon.CertPEM, soon.KeyPEM, pki.WWDR.CertPEM, time.Now())
	if err != nil {
		t.Fatalf("LoadPEM: %v", err)
	}
	if warning == nil {
		t.Fatal("no warning 10 days before expiry")
	}
	if warning.PassTypeID != c.PassTypeID || !warning.NotAfter.Equal(c.NotAfter) || !strings.Contains(warning.String(), "in 10 days") {
		t.Errorf("warning = %+v: %s", *warning, warning)
	}
	// The same certificate, loaded 31 days before its expiry, gets no warning.
	if _, warning, _ := apple.LoadPEM(soon.CertPEM, soon.KeyPEM, pki.WWDR.CertPEM, c.NotAfter.Add(-31*24*time.Hour)); warning != nil {
		t.Errorf("warning = %v 31 days before expiry", warning)
	}
}

func TestCertificate_exportsAndRestoresItself(t *testing.T) {
	pki := appletest.NewPKI(t)
	for _, keyType := range []string{"rsa-pkcs1", "ec"} {
		is := pki.IssuePass(t, "export-"+keyType, appletest.PassOptions{KeyType: keyType})
		c, _, err := apple.LoadPEM(is.CertPEM, is.KeyPEM, pki.WWDR.CertPEM, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, wwdrPEM, err := c.ExportPEM()
		if err != nil {
			t.Fatalf("ExportPEM: %v", err)
		}
		back, err := apple.Restore(certPEM, keyPEM, wwdrPEM)
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if back.String() != c.String() || !back.Leaf.Equal(c.Leaf) || !back.WWDR.Equal(c.WWDR) || back.Subject != c.Subject {
			t.Errorf("restored %v, want %v", back, c)
		}
		if tc := back.TLSCertificate(); tc.PrivateKey == nil || len(tc.Certificate) != 2 {
			t.Errorf("TLSCertificate = %d certificates, key %v", len(tc.Certificate), tc.PrivateKey != nil)
		}
	}
}

func TestRestore_keepsAnExpiredCertificateThatBuildRefuses(t *testing.T) {
	pki := appletest.NewPKI(t)
	expired := pki.Expired(t)
	c, err := apple.Restore(expired.CertPEM, expired.KeyPEM, pki.WWDR.CertPEM)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if _, err := c.Check(time.Now()); !errors.Is(err, apple.ErrExpired) {
		t.Errorf("Check = %v, want ErrExpired", err)
	}
	if _, err := apple.Build(testTemplate(t), []byte(`{}`), c, time.Now()); !errors.Is(err, apple.ErrExpired) {
		t.Errorf("Build = %v, want ErrExpired", err)
	}
}

func TestCertificate_neverPrintsItsKey(t *testing.T) {
	pki := appletest.NewPKI(t)
	c, _, err := apple.LoadPEM(pki.Pass.CertPEM, pki.Pass.KeyPEM, pki.WWDR.CertPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("loaded", "certificate", c)
	der, _ := x509.MarshalPKCS8PrivateKey(pki.Pass.Key)
	d := fmt.Sprint(pki.Pass.Key) // how %v writes the key's numbers
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c), logged.String()} {
		if !strings.Contains(out, appletest.PassTypeID) {
			t.Errorf("%q does not name the pass type", out)
		}
		assertNoSecret(t, out, pki.Pass.KeyPEM, der, []byte(d[len(d)/2:len(d)/2+40]))
	}
}

func assertNoSecret(t *testing.T, s string, secrets ...[]byte) {
	t.Helper()
	for _, secret := range secrets {
		for _, part := range pemBodyLines(secret) {
			if strings.Contains(s, part) {
				t.Fatalf("%q holds a secret (%q)", s, part)
			}
		}
	}
}

// pemBodyLines returns the secret itself, or the base64 lines of a PEM secret.
func pemBodyLines(b []byte) []string {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		return []string{string(b)}
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) > 20 && !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return lines
}
