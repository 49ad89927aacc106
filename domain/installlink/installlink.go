// Package installlink holds the rule of a pass's install link: a URL anyone may open until it expires, signed
// with an HMAC-SHA256 over the tenant, the pass and the expiry, keyed with the tenant's link key.
package installlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// KeySize is the size of a tenant's link key, in bytes.
const KeySize = 32

// DefaultTTL is how long a link lasts when its maker does not say.
const DefaultTTL = 30 * 24 * time.Hour

// MaxTTL bounds a link's life: a link is a bearer credential.
const MaxTTL = 366 * 24 * time.Hour

// ErrForbidden is a link whose signature is wrong or whose expiry has passed.
var ErrForbidden = errors.New("the link is invalid or has expired")

// ErrInvalidTTL is a TTL that is not positive or is longer than MaxTTL.
var ErrInvalidTTL = errors.New("invalid link lifetime")

// Sign returns the hex signature of the link to tenantID's pass passID that expires at the Unix time expires.
func Sign(key []byte, tenantID, passID string, expires int64) string {
	m := hmac.New(sha256.New, key)
	// The parts are separated by NUL, which no tenant or pass id holds, so no two links sign the same bytes.
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write([]byte(passID))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify returns ErrForbidden unless sig is the link's signature and expires is not before now.
func Verify(key []byte, tenantID, passID string, expires int64, sig string, now time.Time) error {
	got, err := hex.DecodeString(sig)
	if err != nil || len(key) == 0 {
		return ErrForbidden
	}
	want, _ := hex.DecodeString(Sign(key, tenantID, passID, expires))
	if !hmac.Equal(got, want) || now.Unix() > expires {
		return ErrForbidden
	}
	return nil
}

// Expiry returns when a link made at now with ttl expires, as a Unix time, or ErrInvalidTTL.
func Expiry(now time.Time, ttl time.Duration) (int64, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return 0, ErrInvalidTTL
	}
	return now.Add(ttl).Unix(), nil
}
