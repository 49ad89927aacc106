package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a master key: AES-256.
const KeySize = 32

// Key is one master key with what is derived from it: the AEAD that seals, the key that fingerprints, and a short
// id that names the key in what it sealed without revealing it. Deriving separate subkeys (HKDF) keeps the
// fingerprints from ever being computed with the encryption key.
type Key struct {
	id             string
	aead           cipher.AEAD
	fingerprintKey []byte
}

// NewKey derives a Key from KeySize bytes of key material.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("a secret key must be %d bytes, got %d", KeySize, len(raw))
	}
	derive := func(info string) ([]byte, error) { return hkdf.Key(sha256.New, raw, nil, info, KeySize) }
	encKey, err := derive("passpush secretbox v1 encryption")
	if err != nil {
		return Key{}, fmt.Errorf("derive encryption key: %w", err)
	}
	fpKey, err := derive("passpush secretbox v1 fingerprint")
	if err != nil {
		return Key{}, fmt.Errorf("derive fingerprint key: %w", err)
	}
	idKey, err := derive("passpush secretbox v1 key id")
	if err != nil {
		return Key{}, fmt.Errorf("derive key id: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return Key{}, fmt.Errorf("new AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("new GCM: %w", err)
	}
	return Key{id: hex.EncodeToString(idKey[:4]), aead: aead, fingerprintKey: fpKey}, nil
}

// ParseKey reads a key written as standard base64 of KeySize bytes, as PASSPUSH_SECRET_KEY holds it. The error
// never quotes the text.
func ParseKey(text string) (Key, error) {
	raw, err := DecodeKey(text)
	if err != nil {
		return Key{}, err
	}
	return NewKey(raw)
}

// DecodeKey decodes base64 key text (white space around it is ignored, as a file's trailing newline) and checks
// its length. The error never quotes the text.
func DecodeKey(text string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("a secret key must be standard base64")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("a secret key must be the base64 of %d bytes, got %d bytes", KeySize, len(raw))
	}
	return raw, nil
}

// ID names the key in the stored form of what it sealed.
func (k Key) ID() string { return k.id }

// GenerateKeyText returns a new random key as base64 text.
func GenerateKeyText() string {
	raw := make([]byte, KeySize)
	_, _ = rand.Read(raw) // never fails: crypto/rand.Read crashes the program rather than return an error
	return base64.StdEncoding.EncodeToString(raw)
}

// ReadKeyFile reads a key file: base64 text of KeySize bytes.
func ReadKeyFile(path string) (Key, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("read secret key file: %w", err)
	}
	k, err := ParseKey(string(text))
	if err != nil {
		return Key{}, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return k, nil
}

// EnsureKeyFile reads the key file at path, or makes one with a new random key and mode 0600 when there is none,
// and reports whether it made it. The key is written to a temporary file first and linked into place, so a
// process that finds the file never reads it half written, and of two processes making it at once one wins and
// both use its key.
func EnsureKeyFile(path string) (k Key, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		k, err := ReadKeyFile(path)
		return k, false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return Key{}, false, fmt.Errorf("create secret key file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	// CreateTemp makes the file with mode 0600; Chmod says so should that ever change.
	_, writeErr := tmp.WriteString(GenerateKeyText() + "\n")
	if err := errors.Join(writeErr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return Key{}, false, fmt.Errorf("write secret key file %s: %w", path, err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case errors.Is(err, os.ErrExist):
	case err != nil:
		return Key{}, false, fmt.Errorf("create secret key file %s: %w", path, err)
	default:
		created = true
	}
	k, err = ReadKeyFile(path)
	return k, created, err
}
