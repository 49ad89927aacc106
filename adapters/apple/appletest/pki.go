// Package appletest makes, inside a test, the certificates Apple would issue: a root, an intermediate standing in
// for Apple's WWDR, and Pass Type ID certificates under it, as PEM files and as .p12 files written by the
// openssl command line. Keys are made once per test binary; certificates and files once per call.
package appletest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test identities of the default Pass Type ID certificate.
const (
	PassTypeID  = "pass.com.example.test"
	TeamID      = "TEAMID1234"
	P12Password = "p12-secret-Password!"
)

// OIDUserID is the subject attribute (UID) in which Apple names a certificate's Pass Type ID.
var OIDUserID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// Issued is one certificate with its key, in memory and as PEM files.
type Issued struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertPEM  []byte
	KeyPEM   []byte // PKCS#8 "PRIVATE KEY" unless the options asked otherwise
	CertFile string
	KeyFile  string
}

// PKI is a root, a WWDR stand-in and a Pass Type ID certificate, with files in Dir.
type PKI struct {
	Dir  string
	Root *Issued // self-signed: the trust anchor of openssl -CAfile
	WWDR *Issued // the intermediate that issues Pass Type ID certificates
	Pass *Issued // UID PassTypeID, OU TeamID, valid from an hour ago for a year
}

// NewPKI makes a PKI whose files are in a new temporary directory of tb.
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	p := &PKI{Dir: tb.TempDir()}
	now := time.Now()
	p.Root = p.issue(tb, "root", certOptions{
		subject: pkix.Name{CommonName: "passpush test root", Organization: []string{"passpush tests"}},
		ca:      true, key: rootKey(), notBefore: now.Add(-24 * time.Hour), notAfter: now.AddDate(10, 0, 0),
	}, nil)
	p.WWDR = p.issue(tb, "wwdr", certOptions{
		subject: pkix.Name{CommonName: "Worldwide Developer Relations (test)", OrganizationalUnit: []string{"G4"}, Organization: []string{"passpush tests"}},
		ca:      true, key: wwdrKey(), notBefore: now.Add(-24 * time.Hour), notAfter: now.AddDate(5, 0, 0),
	}, p.Root)
	p.Pass = p.IssuePass(tb, "pass", PassOptions{})
	return p
}

// PassOptions change the Pass Type ID certificate IssuePass makes. The zero value is a valid one.
type PassOptions struct {
	UID       string        // default PassTypeID; "-" leaves the UID out
	TeamID    string        // default TeamID; "-" leaves the OU out
	NotBefore time.Time     // default an hour ago
	NotAfter  time.Time     // default a year from now
	KeyType   string        // "rsa" (default, PKCS#8 PEM), "rsa-pkcs1", "ec" (SEC 1 "EC PRIVATE KEY"), "ec-pkcs8"
	Issuer    *Issued       // default the WWDR stand-in
	Lifetime  time.Duration // when set, NotAfter = NotBefore + Lifetime
}

// IssuePass makes a certificate under the WWDR stand-in and writes name.pem and name-key.pem.
func (p *PKI) IssuePass(tb testing.TB, name string, o PassOptions) *Issued {
	tb.Helper()
	now := time.Now()
	if o.UID == "" {
		o.UID = PassTypeID
	}
	if o.TeamID == "" {
		o.TeamID = TeamID
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.Lifetime != 0 {
		o.NotAfter = o.NotBefore.Add(o.Lifetime)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(1, 0, 0)
	}
	if o.Issuer == nil {
		o.Issuer = p.WWDR
	}
	subject := pkix.Name{CommonName: "Pass Type ID: " + o.UID, Organization: []string{"Example Inc."}, Country: []string{"US"}}
	if o.UID != "-" {
		subject.ExtraNames = append(subject.ExtraNames, pkix.AttributeTypeAndValue{Type: OIDUserID, Value: o.UID})
	} else {
		subject.CommonName = "Not a pass certificate"
	}
	if o.TeamID != "-" {
		subject.OrganizationalUnit = []string{o.TeamID}
	}
	var key crypto.Signer = passKey()
	keyFormat := "pkcs8"
	switch o.KeyType {
	case "", "rsa":
	case "rsa-pkcs1":
		keyFormat = "pkcs1"
	case "ec":
		key, keyFormat = ecKey(), "ec"
	case "ec-pkcs8":
		key = ecKey()
	default:
		tb.Fatalf("appletest: unknown key type %q", o.KeyType)
	}
	return p.issue(tb, name, certOptions{subject: subject, key: key, keyFormat: keyFormat, notBefore: o.NotBefore, notAfter: o.NotAfter}, o.Issuer)
}

// Expired is a Pass Type ID certificate that expired yesterday.
func (p *PKI) Expired(tb testing.TB) *Issued {
	tb.Helper()
	now := time.Now()
	return p.IssuePass(tb, "expired", PassOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.Add(-24 * time.Hour)})
}

// ExpiringSoon is a Pass Type ID certificate that expires in ten days.
func (p *PKI) ExpiringSoon(tb testing.TB) *Issued {
	tb.Helper()
	return p.IssuePass(tb, "expiring", PassOptions{NotAfter: time.Now().Add(10 * 24 * time.Hour)})
}

// NotPass is a certificate under the WWDR stand-in without a "pass." UID (a developer certificate, say).
func (p *PKI) NotPass(tb testing.TB) *Issued {
	tb.Helper()
	return p.IssuePass(tb, "notpass", PassOptions{UID: "ABCDE12345"})
}

// OtherKeyPEM is a private key (PKCS#8 PEM, and its file) that belongs to no certificate of the PKI.
func (p *PKI) OtherKeyPEM(tb testing.TB) ([]byte, string) {
	tb.Helper()
	b := keyPEM(tb, otherKey(), "pkcs8")
	return b, writeFile(tb, p.Dir, "other-key.pem", b)
}

// OtherCA is a CA outside the PKI: a WWDR that did not issue the Pass Type ID certificate.
func (p *PKI) OtherCA(tb testing.TB) *Issued {
	tb.Helper()
	now := time.Now()
	return p.issue(tb, "other-ca", certOptions{
		subject: pkix.Name{CommonName: "Some other CA"}, ca: true, key: otherKey(),
		notBefore: now.Add(-time.Hour), notAfter: now.AddDate(1, 0, 0),
	}, nil)
}

// HasOpenSSL reports whether the openssl command line is on PATH.
func HasOpenSSL() bool {
	_, err := exec.LookPath("openssl")
	return err == nil
}

// P12 exports cert and key, with the WWDR stand-in as the chain, with `openssl pkcs12 -export` and the
// P12Password: OpenSSL 3's default (PBES2, AES-256-CBC, PBKDF2 with HMAC-SHA256) or, with legacy, `-legacy`
// (RC2-40 and 3DES with a SHA-1 MAC, what OpenSSL 1.x and macOS Keychain wrote). It skips the test when there
// is no openssl or, for legacy, when this openssl cannot write legacy files. It returns the file's bytes and path.
func (p *PKI) P12(tb testing.TB, is *Issued, legacy bool) ([]byte, string) {
	tb.Helper()
	if !HasOpenSSL() {
		tb.Skip("appletest: no openssl command line")
	}
	name := strings.TrimSuffix(filepath.Base(is.CertFile), ".pem")
	out := filepath.Join(p.Dir, name+map[bool]string{false: ".p12", true: "-legacy.p12"}[legacy])
	args := []string{"pkcs12", "-export", "-in", is.CertFile, "-inkey", is.KeyFile, "-certfile", p.WWDR.CertFile,
		"-name", "Pass Type ID", "-out", out, "-passout", "pass:" + P12Password}
	if legacy {
		args = append(args, "-legacy")
	}
	cmd := exec.Command("openssl", args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if legacy {
			tb.Skipf("appletest: this openssl cannot write a legacy .p12: %v: %s", err, msg)
		}
		tb.Fatalf("appletest: openssl pkcs12 -export: %v: %s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b, out
}

type certOptions struct {
	subject             pkix.Name
	ca                  bool
	key                 crypto.Signer
	keyFormat           string // pkcs8 (default), pkcs1, ec
	notBefore, notAfter time.Time
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano()/1000 + serial.n)
}

func (p *PKI) issue(tb testing.TB, name string, o certOptions, parent *Issued) *Issued {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               o.subject,
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.ca,
	}
	if o.ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	issuerCert, issuerKey := tmpl, o.key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, o.key.Public(), issuerKey)
	if err != nil {
		tb.Fatalf("appletest: create %s certificate: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kp := keyPEM(tb, o.key, o.keyFormat)
	return &Issued{
		Cert: cert, Key: o.key, CertPEM: certPEM, KeyPEM: kp,
		CertFile: writeFile(tb, p.Dir, name+".pem", certPEM),
		KeyFile:  writeFile(tb, p.Dir, name+"-key.pem", kp),
	}
}

func keyPEM(tb testing.TB, key crypto.Signer, format string) []byte {
	tb.Helper()
	var block *pem.Block
	switch format {
	case "pkcs1":
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	case "ec":
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			tb.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			tb.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return pem.EncodeToMemory(block)
}

func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Keys take a while to make: one of each per test binary.
var (
	rootKey  = sync.OnceValue(func() crypto.Signer { return newRSA() })
	wwdrKey  = sync.OnceValue(func() crypto.Signer { return newRSA() })
	passKey  = sync.OnceValue(func() crypto.Signer { return newRSA() })
	otherKey = sync.OnceValue(func() crypto.Signer { return newRSA() })
	ecKey    = sync.OnceValue(func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func newRSA() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}
