package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

var (
	// ErrAPIKeyNotFound means the tenant has no key of that name.
	ErrAPIKeyNotFound = errors.New("unknown API key")
	// ErrAPIKeyExists means the tenant already has a key of that name.
	ErrAPIKeyExists = errors.New("API key name already in use")
	// ErrAPIKeyRefused means a presented key is not one of any tenant: malformed, unknown or revoked.
	ErrAPIKeyRefused = errors.New("API key refused")
)

const (
	// APIKeyPrefix starts every API key, so a key is told apart from the admin token without a lookup, and secret
	// scanners can find a leaked one.
	APIKeyPrefix = "pp_"
	// apiKeyRandomBytes is the key's entropy: 256 bits, as much as the SHA-256 it is stored as.
	apiKeyRandomBytes = 32
	// apiKeyRandomLen is the length of the random part, hex-encoded. Hex rather than base64url: base64url's
	// alphabet has "_", the separator, and a key must split into tenant and random part unambiguously.
	apiKeyRandomLen = 2 * apiKeyRandomBytes
	// apiKeyHintLen is how much of the random part a listing shows.
	apiKeyHintLen = 8
	// LogPrefixLen is how much of a presented credential a log line may show.
	LogPrefixLen = 8
)

var apiKeyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidateAPIKeyName checks a key's name: 1-64 letters, digits, _, . or -, starting with a letter or digit, so it
// is one path segment of DELETE /api/admin/tenants/{id}/keys/{name}.
func ValidateAPIKeyName(name string) error {
	if !apiKeyNamePattern.MatchString(name) {
		return fmt.Errorf("%w: API key name %q must be 1-64 letters, digits, _, . or -, starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// APIKeyHash is the SHA-256 of a key: what is stored and looked up, never the key. The key has 256 random bits,
// so a fast hash is enough: nothing can be guessed from it, and a salt would keep the lookup from being an
// indexed equality.
type APIKeyHash [sha256.Size]byte

// HashAPIKey returns the hash a key is stored and looked up by.
func HashAPIKey(key string) APIKeyHash { return sha256.Sum256([]byte(key)) }

// String is the hash in hex, as stored.
func (h APIKeyHash) String() string { return hex.EncodeToString(h[:]) }

// Equal compares two hashes in constant time.
func (h APIKeyHash) Equal(o APIKeyHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// APIKey is a tenant's API key as stored: its hash, never the key itself.
type APIKey struct {
	TenantID string
	Name     string
	Hash     APIKeyHash
	// Hint is the first characters of the key's random part, to tell keys apart in a listing.
	Hint      string
	CreatedAt time.Time
}

// NewAPIKey makes a key for the tenant from random (crypto/rand.Reader outside tests). It returns the stored form
// and the key itself, pp_<tenant>_<64 hex digits>, which is shown once and never kept.
func NewAPIKey(tenantID, name string, random io.Reader, now time.Time) (APIKey, string, error) {
	if err := ValidateID(tenantID); err != nil {
		return APIKey{}, "", err
	}
	if err := ValidateAPIKeyName(name); err != nil {
		return APIKey{}, "", err
	}
	b := make([]byte, apiKeyRandomBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return APIKey{}, "", fmt.Errorf("make API key: %w", err)
	}
	secret := hex.EncodeToString(b)
	key := APIKeyPrefix + tenantID + "_" + secret
	return APIKey{
		TenantID: tenantID, Name: name, Hash: HashAPIKey(key), Hint: secret[:apiKeyHintLen], CreatedAt: now.UTC(),
	}, key, nil
}

// LooksLikeAPIKey reports whether a credential has an API key's shape, pp_<tenant id>_<64 hex digits>, and if so
// which tenant it names. Only a well-shaped credential is looked up, so garbage costs no query.
func LooksLikeAPIKey(credential string) (tenantID string, ok bool) {
	rest, ok := strings.CutPrefix(credential, APIKeyPrefix)
	if !ok || len(rest) < apiKeyRandomLen+2 {
		return "", false
	}
	tenantID, secret := rest[:len(rest)-apiKeyRandomLen-1], rest[len(rest)-apiKeyRandomLen:]
	if rest[len(rest)-apiKeyRandomLen-1] != '_' || ValidateID(tenantID) != nil {
		return "", false
	}
	if _, err := hex.DecodeString(secret); err != nil || strings.ToLower(secret) != secret {
		return "", false
	}
	return tenantID, true
}

// LogPrefix is what a log line may show of a credential: its first LogPrefixLen characters, never more.
func LogPrefix(credential string) string {
	if len(credential) <= LogPrefixLen {
		// A credential this short is no key; showing it whole would show all of it.
		return ""
	}
	return credential[:LogPrefixLen]
}
