package httpport

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/ports/http/httperr"
)

// countingClaims counts how often a token's claims are decoded: once per parse.
type countingClaims struct {
	jwt.RegisteredClaims
	decodes *atomic.Int32
}

func (c *countingClaims) UnmarshalJSON(b []byte) error {
	c.decodes.Add(1)
	return nil
}

func statusOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var e *httperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T %v is not an *httperr.Error", err, err)
	}
	return e.Status, e.Code
}

// A tenant rotating its secrets has three; a token signed with the third is decoded once, not once per secret.
// This proves the claims are decoded once; the header is decoded by the same single ParseUnverified call.
func TestVerifySFMCToken_decodesTheTokenOnceWhateverTheSecretItMatches(t *testing.T) {
	secrets := []string{"first-secret-0123456789", "second-secret-0123456789", "third-secret-0123456789"}
	token := fuzzSign(hs256Header, []byte(`{"activityId":"a"}`), secrets[2])
	var decodes atomic.Int32
	claims, err := verifySFMCToken(token, secrets, func() jwt.Claims { return &countingClaims{decodes: &decodes} })
	if err != nil || claims == nil {
		t.Fatalf("a token signed with the third secret: %v", err)
	}
	if n := decodes.Load(); n != 1 {
		t.Fatalf("the claims were decoded %d times, want once", n)
	}
}

func TestVerifySFMCToken_triesAtMostThreeSecrets(t *testing.T) {
	secrets := []string{"secret-one-0123456789", "secret-two-0123456789", "secret-three-0123456789", "secret-four-0123456789"}
	for i, want := range []int{0, 0, 0, http.StatusUnauthorized} {
		token := fuzzSign(hs256Header, []byte(`{}`), secrets[i])
		_, err := verifySFMCToken(token, secrets, func() jwt.Claims { return &lifecycleClaims{} })
		if want == 0 && err != nil {
			t.Errorf("signed with secret %d: %v, want verified", i+1, err)
		}
		if want != 0 {
			if status, code := statusOf(t, err); status != want || code != "invalid_jwt" {
				t.Errorf("signed with secret %d: %d %s, want 401 invalid_jwt: a fourth secret is never tried", i+1, status, code)
			}
		}
	}
}

func TestVerifySFMCToken_refusesATokenOver32KiBBeforeParsingIt(t *testing.T) {
	secret := "secret-one-0123456789"
	var decodes atomic.Int32
	claims := func() jwt.Claims { return &countingClaims{decodes: &decodes} }
	// Correctly signed, just too large: without the cap it would verify.
	big := fuzzSign(hs256Header, []byte(`{"pad":"`+strings.Repeat("x", MaxSFMCToken)+`"}`), secret)
	_, err := verifySFMCToken(big, []string{secret}, claims)
	if status, code := statusOf(t, err); status != http.StatusRequestEntityTooLarge || code != "jwt_too_large" {
		t.Errorf("a %d-byte token: %d %s, want 413 jwt_too_large", len(big), status, code)
	}
	if n := decodes.Load(); n != 0 {
		t.Errorf("the oversized token's claims were decoded %d times, want never", n)
	}
	small := fuzzSign(hs256Header, []byte(`{"pad":"`+strings.Repeat("x", MaxSFMCToken/2)+`"}`), secret)
	if _, err := verifySFMCToken(small, []string{secret}, claims); err != nil {
		t.Errorf("a %d-byte token: %v, want verified", len(small), err)
	}
}

// The behaviour the single parse keeps: HS256 only, exp and iat honoured, malformed 400, bad signature 401.
func TestVerifySFMCToken_keepsItsAnswers(t *testing.T) {
	secret := "secret-one-0123456789"
	past, future := time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix()
	for _, tt := range []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"valid", fuzzSign(hs256Header, []byte(`{}`), secret), 0, ""},
		{"valid with exp ahead", fuzzSign(hs256Header, []byte(`{"exp":`+itoa(future)+`}`), secret), 0, ""},
		{"expired", fuzzSign(hs256Header, []byte(`{"exp":`+itoa(past)+`}`), secret), http.StatusUnauthorized, "invalid_jwt"},
		{"issued in the future", fuzzSign(hs256Header, []byte(`{"iat":`+itoa(future)+`}`), secret), http.StatusUnauthorized, "invalid_jwt"},
		{"wrong secret", fuzzSign(hs256Header, []byte(`{}`), "another-secret-0123456789"), http.StatusUnauthorized, "invalid_jwt"},
		{"alg none", fuzzSign(`{"alg":"none"}`, []byte(`{}`), secret), http.StatusUnauthorized, "invalid_jwt"},
		{"HS512", fuzzSign(`{"alg":"HS512"}`, []byte(`{}`), secret), http.StatusUnauthorized, "invalid_jwt"},
		{"unknown alg", fuzzSign(`{"alg":"XX1"}`, []byte(`{}`), secret), http.StatusUnauthorized, "invalid_jwt"},
		{"claims not JSON", fuzzSign(hs256Header, []byte(`not json`), secret), http.StatusBadRequest, "invalid_request"},
		{"two segments", "abc.def", http.StatusBadRequest, "invalid_request"},
	} {
		_, err := verifySFMCToken(tt.token, []string{secret}, func() jwt.Claims { return &lifecycleClaims{} })
		if tt.status == 0 {
			if err != nil {
				t.Errorf("%s: %v, want verified", tt.name, err)
			}
			continue
		}
		if status, code := statusOf(t, err); status != tt.status || code != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, code, tt.status, tt.code)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
