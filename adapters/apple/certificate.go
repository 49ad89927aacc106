// Package apple makes Apple Wallet passes: it loads a tenant's Pass Type ID certificate, reads templates from a
// zip or a folder, and builds the signed .pkpass. The rules of a pass (its template, its pass.json) are in
// domain/applepass.
package apple

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/passpush/passpush/domain/applepass"
)

// Every refusal of a certificate wraps ErrInvalidCertificate and one of the more precise errors below. Their
// messages name the problem and the certificate, never a key or a password.
var (
	ErrInvalidCertificate = applepass.ErrInvalidCertificate // the domain's, so that ports can tell a refusal

	ErrWrongPassword = errors.New("wrong .p12 password")
	ErrKeyMismatch   = errors.New("the private key does not match the certificate")
	ErrExpired       = errors.New("the certificate has expired")
	ErrNotYetValid   = errors.New("the certificate is not valid yet")
	ErrNotPassTypeID = errors.New("not a Pass Type ID certificate")
	ErrInvalidWWDR   = errors.New("invalid WWDR certificate")
)

// ExpiryWarningWindow is how close to its expiry a certificate gets a warning.
const ExpiryWarningWindow = 30 * 24 * time.Hour

// oidUserID is the subject attribute (UID) that holds a Pass Type ID certificate's pass type identifier.
var oidUserID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// Certificate is a Pass Type ID certificate with its private key and the WWDR intermediate that issued it.
// The key stays inside: fmt and slog print only the public facts, and ExportPEM is the one way out.
type Certificate struct {
	Leaf       *x509.Certificate
	WWDR       *x509.Certificate
	PassTypeID string // the subject's UID: "pass.com.example.loyalty"
	TeamID     string // the subject's OU
	Subject    string // "UID=pass.…, CN=Pass Type ID: pass.…, OU=…, O=…, C=…"
	NotAfter   time.Time
	key        crypto.Signer
}

// ExpiryWarning says that a certificate expires soon.
type ExpiryWarning struct {
	PassTypeID string
	NotAfter   time.Time
	Left       time.Duration
}

func (w ExpiryWarning) String() string {
	return fmt.Sprintf("the certificate of %s expires on %s, in %d days: renew it on Apple's developer site",
		w.PassTypeID, w.NotAfter.UTC().Format(time.RFC3339), int(math.Ceil(w.Left.Hours()/24)))
}

// LoadP12 reads a certificate and its key from a PKCS#12 file: OpenSSL 3's default (AES-256, PBKDF2) and legacy
// files (RC2 or 3DES, what OpenSSL 1.x and macOS Keychain write) alike. wwdrPEM is Apple's WWDR intermediate in
// PEM (or DER, as Apple hands out the .cer); when it is empty, the issuer among the .p12's own chain is used.
// It refuses a wrong password, a key that does not match, a certificate that is not a Pass Type ID one, that is
// expired or not yet valid at now, and a WWDR that did not issue it. The warning is not nil when the
// certificate expires within 30 days of now.
func LoadP12(p12 []byte, password string, wwdrPEM []byte, now time.Time) (Certificate, *ExpiryWarning, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(p12, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
			return Certificate{}, nil, refuse(ErrWrongPassword, "p12: the password does not open the file")
		}
		var notImplemented pkcs12.NotImplementedError
		if errors.As(err, &notImplemented) {
			return Certificate{}, nil, refuse(ErrInvalidCertificate, "p12: unsupported file: %s", string(notImplemented))
		}
		// go-pkcs12's other errors describe the file's structure, never its secrets.
		return Certificate{}, nil, refuse(ErrInvalidCertificate, "p12: not a PKCS#12 file with one certificate and its key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return Certificate{}, nil, refuse(ErrInvalidCertificate, "p12: the key is of an unsupported type %T", key)
	}
	var wwdr *x509.Certificate
	if len(bytes.TrimSpace(wwdrPEM)) > 0 {
		if wwdr, err = parseWWDR(wwdrPEM, leaf); err != nil {
			return Certificate{}, nil, err
		}
	} else if wwdr = issuerIn(chain, leaf); wwdr == nil {
		return Certificate{}, nil, refuse(ErrInvalidWWDR, "wwdr: missing, and the .p12 does not hold the certificate that issued %s", describe(leaf))
	}
	return load(leaf, signer, wwdr, now)
}

// LoadPEM reads a certificate from PEM: the certificate (the first CERTIFICATE block), its private key (PKCS#1
// "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY", unencrypted) and the WWDR intermediate.
// It refuses what LoadP12 refuses.
func LoadPEM(certPEM, keyPEM, wwdrPEM []byte, now time.Time) (Certificate, *ExpiryWarning, error) {
	c, err := parsePEM(certPEM, keyPEM, wwdrPEM)
	if err != nil {
		return Certificate{}, nil, err
	}
	return load(c.Leaf, c.key, c.WWDR, now)
}

// Restore reads back what ExportPEM wrote. It checks everything LoadPEM checks except the dates, so that an
// expired certificate can still be listed; Build refuses to sign with one.
func Restore(certPEM, keyPEM, wwdrPEM []byte) (Certificate, error) {
	return parsePEM(certPEM, keyPEM, wwdrPEM)
}

// ExportPEM writes the certificate, its key (PKCS#8) and the WWDR as PEM, for storage. keyPEM is a secret.
func (c Certificate) ExportPEM() (certPEM, keyPEM, wwdrPEM []byte, err error) {
	if c.Leaf == nil || c.key == nil || c.WWDR == nil {
		return nil, nil, nil, refuse(ErrInvalidCertificate, "export: the certificate is not loaded")
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, nil, nil, refuse(ErrInvalidCertificate, "export: the key of %s cannot be written as PKCS#8", c.PassTypeID)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.WWDR.Raw}), nil
}

// TLSCertificate is the certificate as a TLS client certificate, with the WWDR as its chain: what APNs asks for.
func (c Certificate) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw, c.WWDR.Raw}, PrivateKey: c.key, Leaf: c.Leaf}
}

// Check refuses a certificate that is expired or not yet valid at t, and warns when it expires within 30 days.
func (c Certificate) Check(t time.Time) (*ExpiryWarning, error) {
	if c.Leaf == nil || c.key == nil || c.WWDR == nil {
		return nil, refuse(ErrInvalidCertificate, "the certificate is not loaded")
	}
	when := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case t.After(c.Leaf.NotAfter):
		return nil, refuse(ErrExpired, "the certificate of %s expired on %s", c.PassTypeID, when(c.Leaf.NotAfter))
	case t.Before(c.Leaf.NotBefore):
		return nil, refuse(ErrNotYetValid, "the certificate of %s is valid from %s", c.PassTypeID, when(c.Leaf.NotBefore))
	case t.After(c.WWDR.NotAfter):
		return nil, refuse(ErrInvalidWWDR, "wwdr: %s expired on %s", describe(c.WWDR), when(c.WWDR.NotAfter))
	}
	if left := c.Leaf.NotAfter.Sub(t); left < ExpiryWarningWindow {
		return &ExpiryWarning{PassTypeID: c.PassTypeID, NotAfter: c.Leaf.NotAfter, Left: left}, nil
	}
	return nil, nil
}

// String, GoString and LogValue keep the key out of logs and error messages.
func (c Certificate) String() string {
	return fmt.Sprintf("Pass Type ID certificate %s (team %s, expires %s)", c.PassTypeID, c.TeamID, c.NotAfter.UTC().Format(time.RFC3339))
}

func (c Certificate) GoString() string { return c.String() }

func (c Certificate) LogValue() slog.Value {
	return slog.GroupValue(slog.String("passTypeIdentifier", c.PassTypeID), slog.String("teamIdentifier", c.TeamID),
		slog.String("subject", c.Subject), slog.Time("notAfter", c.NotAfter))
}

func load(leaf *x509.Certificate, key crypto.Signer, wwdr *x509.Certificate, now time.Time) (Certificate, *ExpiryWarning, error) {
	c, err := assemble(leaf, key, wwdr)
	if err != nil {
		return Certificate{}, nil, err
	}
	warning, err := c.Check(now)
	if err != nil {
		return Certificate{}, nil, err
	}
	return c, warning, nil
}

func parsePEM(certPEM, keyPEM, wwdrPEM []byte) (Certificate, error) {
	leaf, err := firstCertificate(certPEM)
	if err != nil {
		return Certificate{}, refuse(ErrInvalidCertificate, "certificate: %v", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return Certificate{}, err
	}
	wwdr, err := parseWWDR(wwdrPEM, leaf)
	if err != nil {
		return Certificate{}, err
	}
	return assemble(leaf, key, wwdr)
}

func assemble(leaf *x509.Certificate, key crypto.Signer, wwdr *x509.Certificate) (Certificate, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return Certificate{}, refuse(ErrKeyMismatch, "the private key does not match the certificate %s", describe(leaf))
	}
	passTypeID := ""
	for _, n := range leaf.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oidUserID) {
			passTypeID = s
			break
		}
	}
	if !strings.HasPrefix(passTypeID, "pass.") || len(passTypeID) == len("pass.") {
		return Certificate{}, refuse(ErrNotPassTypeID, "%s has no subject UID starting with \"pass.\": make a Pass Type ID certificate on Apple's developer site", describe(leaf))
	}
	if len(leaf.Subject.OrganizationalUnit) == 0 || leaf.Subject.OrganizationalUnit[0] == "" {
		return Certificate{}, refuse(ErrNotPassTypeID, "%s has no team identifier (subject OU)", describe(leaf))
	}
	return Certificate{
		Leaf:       leaf,
		WWDR:       wwdr,
		PassTypeID: passTypeID,
		TeamID:     leaf.Subject.OrganizationalUnit[0],
		Subject:    subjectString(leaf),
		NotAfter:   leaf.NotAfter,
		key:        key,
	}, nil
}

// parseKey reads an unencrypted PEM private key. Its errors never quote the key.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	var block *pem.Block
	for rest := keyPEM; ; {
		block, rest = pem.Decode(rest)
		if block == nil || strings.Contains(block.Type, "PRIVATE KEY") {
			break
		}
	}
	if block == nil {
		return nil, refuse(ErrInvalidCertificate, "private key: no PEM private key found")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, refuse(ErrInvalidCertificate, "private key: encrypted keys are not supported: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, refuse(ErrInvalidCertificate, "private key: the %s block is not a valid key", block.Type)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
		return k.(crypto.Signer), nil
	default:
		return nil, refuse(ErrInvalidCertificate, "private key: %T keys are not supported: use RSA or ECDSA", key)
	}
}

// certificates reads every certificate of PEM data, or of one DER certificate (Apple's .cer).
func certificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a CERTIFICATE block does not parse: %v", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 && len(b) > 0 && b[0] == 0x30 { // DER: an ASN.1 SEQUENCE
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("not a PEM or DER certificate: %v", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found (want PEM \"CERTIFICATE\" or DER)")
	}
	return certs, nil
}

func firstCertificate(b []byte) (*x509.Certificate, error) {
	certs, err := certificates(b)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// parseWWDR finds, in wwdrPEM, the CA certificate that issued leaf.
func parseWWDR(wwdrPEM []byte, leaf *x509.Certificate) (*x509.Certificate, error) {
	certs, err := certificates(wwdrPEM)
	if err != nil {
		return nil, refuse(ErrInvalidWWDR, "wwdr: %v", err)
	}
	if wwdr := issuerIn(certs, leaf); wwdr != nil {
		return wwdr, nil
	}
	return nil, refuse(ErrInvalidWWDR, "wwdr: %s did not issue %s (issued by %q): download the matching WWDR certificate (G4) from Apple",
		describe(certs[0]), describe(leaf), leaf.Issuer.CommonName)
}

// issuerIn returns the CA certificate among certs that signed leaf.
func issuerIn(certs []*x509.Certificate, leaf *x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if c.IsCA && leaf.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

func describe(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}

var attributeNames = map[string]string{
	"0.9.2342.19200300.100.1.1": "UID", "2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.6": "C",
	"2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.5": "SERIALNUMBER", "1.2.840.113549.1.9.1": "emailAddress",
}

// subjectString writes the subject in its own order with readable names, the UID included (pkix.Name.String
// would write the UID as a hex OID).
func subjectString(c *x509.Certificate) string {
	parts := make([]string, 0, len(c.Subject.Names))
	for _, n := range c.Subject.Names {
		name, ok := attributeNames[n.Type.String()]
		if !ok {
			name = n.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", name, n.Value))
	}
	return strings.Join(parts, ", ")
}

// certificateError is a refusal: its message for people, and the errors it stands for.
type certificateError struct {
	kind error
	msg  string
}

func (e *certificateError) Error() string { return e.msg }

func (e *certificateError) Unwrap() []error {
	if e.kind == ErrInvalidCertificate {
		return []error{ErrInvalidCertificate}
	}
	return []error{e.kind, ErrInvalidCertificate}
}

func refuse(kind error, format string, args ...any) error {
	return &certificateError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
