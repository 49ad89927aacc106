// Package googletest makes what tests of passpush's Google Wallet side need: service account key files with
// fresh keys.
package googletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"
)

// KeyFile is a service account's key file, as Google hands it out, with its key.
type KeyFile struct {
	ClientEmail string
	Key         *rsa.PrivateKey
	// JSON is the key file.
	JSON []byte
	// PrivateKeyPEM is the key as the file holds it: a secret no answer, output or log may show.
	PrivateKeyPEM string
}

// NewKeyFile returns a key file with a new 2048-bit RSA key. change, when given, edits the file's fields before
// it is encoded (delete "client_email", put an EC key, …).
func NewKeyFile(t testing.TB, change ...func(fields map[string]any)) KeyFile {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	email := "passpush@acme-wallet.iam.gserviceaccount.com"
	fields := map[string]any{
		"type":                        "service_account",
		"project_id":                  "acme-wallet",
		"private_key_id":              "0123456789abcdef0123456789abcdef01234567",
		"private_key":                 keyPEM,
		"client_email":                email,
		"client_id":                   "101234567890123456789",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/passpush%40acme-wallet.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	for _, c := range change {
		c(fields)
	}
	b, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return KeyFile{ClientEmail: email, Key: key, JSON: b, PrivateKeyPEM: keyPEM}
}

// ECKey puts an EC private key (PKCS#8 PEM) in place of the RSA one: a key file passpush must refuse.
func ECKey(t testing.TB) func(map[string]any) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return func(fields map[string]any) { fields["private_key"] = keyPEM }
}

// Without deletes a field of the key file.
func Without(field string) func(map[string]any) {
	return func(fields map[string]any) { delete(fields, field) }
}
