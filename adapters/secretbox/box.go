// Package secretbox seals the secrets passpush stores (channel credentials, SFMC signing secrets) with AES-256-GCM
// before they reach the database, and opens them when they are read.
//
// The stored form describes itself: "ppsb1:<key id>:<base64 of nonce and ciphertext>". A reader tells it from the
// plain JSON stored before secrets were sealed (which starts with { or [), and knows which key sealed it. The
// tenant id and the secret's place (a label such as the credential's kind and name) are the additional data, so a
// ciphertext copied into another tenant's row, or into another column, fails to open.
//
// The standard library's crypto/aes, crypto/cipher and crypto/hkdf do the cryptography; this package only frames
// it.
package secretbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	// prefix starts every sealed value, version 1 of the stored form.
	prefix = "ppsb1:"
)

var (
	// ErrUnknownKey means a value was sealed with a key the box does not hold: the previous key was dropped
	// before every secret was re-encrypted (passpush secrets rotate-key), or the wrong key is configured.
	ErrUnknownKey = errors.New("sealed with a secret key that is not configured")
	// ErrOpen means a value does not open with the key that sealed it: it was changed, or moved from another
	// tenant's row or another place.
	ErrOpen = errors.New("sealed value does not open: it was altered or moved from another row")
)

// Box seals with its current key and opens with the current key or a previous one, so that during a key
// rotation the secrets sealed with either can be read.
type Box struct {
	current  Key
	previous []Key
}

// New returns a box that seals with current and opens with current or any of previous.
func New(current Key, previous ...Key) (*Box, error) {
	if current.aead == nil {
		return nil, errors.New("new secret box: no current key")
	}
	b := &Box{current: current}
	seen := map[string]bool{current.id: true}
	for _, k := range previous {
		if k.aead == nil {
			return nil, errors.New("new secret box: a previous key is empty")
		}
		if !seen[k.id] {
			seen[k.id] = true
			b.previous = append(b.previous, k)
		}
	}
	return b, nil
}

// Rotated returns a box that seals with next and opens with next or any key of b: what re-encrypting every
// secret with next needs.
func (b *Box) Rotated(next Key) (*Box, error) {
	return New(next, append([]Key{b.current}, b.previous...)...)
}

// CurrentKeyID names the key Seal uses.
func (b *Box) CurrentKeyID() string { return b.current.id }

// IsSealed reports whether stored is a sealed value rather than legacy plain text.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// SealedWithCurrent reports whether stored was sealed with the box's current key.
func (b *Box) SealedWithCurrent(stored string) bool {
	return strings.HasPrefix(stored, prefix+b.current.id+":")
}

// Seal encrypts plaintext for the tenant's secret at label, with a random nonce.
func (b *Box) Seal(tenantID, label string, plaintext []byte) (string, error) {
	nonce := make([]byte, b.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: read a nonce: %w", err)
	}
	sealed := b.current.aead.Seal(nonce, nonce, plaintext, additionalData(tenantID, label))
	return prefix + b.current.id + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a value Seal returned for the same tenant and label. A value stored before secrets were sealed
// (plain text) is returned as it is: the start-up step that seals them may not have run on this row yet.
func (b *Box) Open(tenantID, label, stored string) ([]byte, error) {
	if !IsSealed(stored) {
		return []byte(stored), nil
	}
	keyID, encoded, ok := strings.Cut(strings.TrimPrefix(stored, prefix), ":")
	if !ok {
		return nil, fmt.Errorf("open %s of tenant %s: malformed sealed value", label, tenantID)
	}
	key, ok := b.key(keyID)
	if !ok {
		return nil, fmt.Errorf("open %s of tenant %s: key %s: %w", label, tenantID, keyID, ErrUnknownKey)
	}
	sealed, err := base64.RawStdEncoding.DecodeString(encoded)
	if err != nil || len(sealed) < key.aead.NonceSize()+key.aead.Overhead() {
		return nil, fmt.Errorf("open %s of tenant %s: malformed sealed value", label, tenantID)
	}
	n := key.aead.NonceSize()
	plaintext, err := key.aead.Open(nil, sealed[:n], sealed[n:], additionalData(tenantID, label))
	if err != nil {
		return nil, fmt.Errorf("open %s of tenant %s: %w", label, tenantID, ErrOpen)
	}
	return plaintext, nil
}

func (b *Box) key(id string) (Key, bool) {
	if id == b.current.id {
		return b.current, true
	}
	for _, k := range b.previous {
		if k.id == id {
			return k, true
		}
	}
	return Key{}, false
}

// additionalData binds a ciphertext to its tenant and place. Tenant ids never hold a NUL (domain/tenant), so the
// two parts cannot run into each other.
func additionalData(tenantID, label string) []byte {
	return []byte("passpush secretbox v1\x00" + tenantID + "\x00" + label)
}

// Fingerprint is a keyed hash of a secret: equal secrets have equal fingerprints under one key, and the
// fingerprint reveals nothing of the secret without the key (unlike a bare hash of a short secret).
type Fingerprint struct {
	KeyID string
	Sum   string
}

// Fingerprints returns the secret's fingerprint under every key of the box, current first: during a rotation
// the instances still on the previous key compare with the previous key's.
func (b *Box) Fingerprints(secret string) []Fingerprint {
	fps := []Fingerprint{b.current.fingerprint(secret)}
	for _, k := range b.previous {
		fps = append(fps, k.fingerprint(secret))
	}
	return fps
}

func (k Key) fingerprint(secret string) Fingerprint {
	mac := hmac.New(sha256.New, k.fingerprintKey)
	mac.Write([]byte(secret))
	return Fingerprint{KeyID: k.id, Sum: hex.EncodeToString(mac.Sum(nil))}
}
