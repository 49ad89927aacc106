package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// isCompactJWT reports whether b is three base64url segments, which tells a token from JSON or garbage before any
// parsing. A loop, not a regular expression: matching one on every execute call cost about 3% of the service's
// CPU under a journey's full load.
func isCompactJWT[T string | []byte](b T) bool {
	dots := 0
	for i := range len(b) {
		switch c := b[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return dots == 2
}

func invalidJWT(message string) *httperr.Error {
	return &httperr.Error{Status: http.StatusUnauthorized, Code: "invalid_jwt", Message: message}
}

// sfmcBody is what Journey Builder sent: a compact JWT (raw, or wrapped as {"jwt"} or {"token"}), or, on the
// lifecycle routes, plain JSON.
type sfmcBody struct {
	token string
	plain json.RawMessage
}

// readSFMCRequest reads the body of a Journey Builder call. A body over the limit keeps its
// *http.MaxBytesError (413); any other read failure is a bad request.
func readSFMCRequest(r *http.Request) (sfmcBody, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			return sfmcBody{}, err
		}
		return sfmcBody{}, httperr.BadRequest("could not read the request body")
	}
	return readSFMCBody(body)
}

// readSFMCBody tells the three shapes apart. Anything else is not a request we understand: 400.
func readSFMCBody(body []byte) (sfmcBody, error) {
	trimmed := bytes.TrimSpace(body)
	if isCompactJWT(trimmed) {
		return sfmcBody{token: string(trimmed)}, nil
	}
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &wrapper); err != nil || wrapper == nil {
		return sfmcBody{}, httperr.BadRequest("the body is neither a JWT nor a JSON object")
	}
	for _, key := range []string{"jwt", "token"} {
		raw, ok := wrapper[key]
		if !ok {
			continue
		}
		var token string
		if err := json.Unmarshal(raw, &token); err != nil {
			return sfmcBody{}, httperr.BadRequest(fmt.Sprintf("%q must be a string holding the JWT", key))
		}
		token = string(bytes.TrimSpace([]byte(token)))
		if !isCompactJWT(token) {
			return sfmcBody{}, httperr.BadRequest(fmt.Sprintf("%q does not hold a compact JWT", key))
		}
		return sfmcBody{token: token}, nil
	}
	return sfmcBody{plain: trimmed}, nil
}

// MaxSFMCToken is the largest JWT passpush parses: 32 KiB. Journey Builder's tokens are a few KiB; a larger one
// is refused before any decoding, with 413 jwt_too_large, so that a flood of large tokens costs nothing but
// reading them.
const MaxSFMCToken = 32 << 10

// MaxSigningSecretsTried is how many of a tenant's signing secrets a token is checked against: the tenant rules
// allow no more than this, and a tenant that somehow has more gets only its first ones tried, so that a token's
// cost is bounded.
const MaxSigningSecretsTried = 3

// sfmcTokenParser decodes a token without checking it; sfmcClaimsValidator checks the registered claims. SFMC
// sends no exp or iat, so neither is required; one that is present is honoured.
var (
	sfmcTokenParser     = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuedAt(), jwt.WithJSONNumber())
	sfmcClaimsValidator = jwt.NewValidator(jwt.WithIssuedAt())
)

// jwtFailure is why a token did not verify: the port's answer, and a short reason for the security log that
// holds nothing of the token.
type jwtFailure struct {
	answer *httperr.Error
	reason string
}

func (f *jwtFailure) Error() string { return f.answer.Message }
func (f *jwtFailure) Unwrap() error { return f.answer }

// verifySFMCToken decodes the token once, checks its HS256 signature against the tenant's signing secrets (more
// than one during a rotation; at most MaxSigningSecretsTried), then its registered claims, and returns the
// claims. The algorithm is pinned: none, RS*, ES* and the rest are refused. A token too large or malformed is
// a 413 or a 400, one that does not verify a 401 invalid_jwt; either way the error is a *jwtFailure.
//
// jwt.Parser.ParseWithClaims would decode the header and the claims again for every secret; here the signing
// string's HMAC is all that is computed per secret.
func verifySFMCToken(token string, secrets []string, claims func() jwt.Claims) (jwt.Claims, error) {
	if len(token) > MaxSFMCToken {
		return nil, &jwtFailure{reason: "too_large", answer: &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "jwt_too_large",
			Message: fmt.Sprintf("the JWT is larger than %d bytes", MaxSFMCToken)}}
	}
	c := claims()
	parsed, parts, err := sfmcTokenParser.ParseUnverified(token, c)
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, &jwtFailure{reason: "malformed", answer: httperr.BadRequest("malformed JWT: " + err.Error())}
	case err != nil:
		return nil, &jwtFailure{reason: "unverifiable", answer: invalidJWT("the JWT does not verify: " + err.Error())}
	case parsed.Method != jwt.SigningMethodHS256:
		return nil, &jwtFailure{reason: "algorithm", answer: invalidJWT(fmt.Sprintf("the JWT does not verify: signing method %v is invalid", parsed.Method.Alg()))}
	case len(secrets) == 0:
		return nil, &jwtFailure{reason: "no_secret", answer: invalidJWT("the tenant has no signing secret")}
	}
	signingString := parts[0] + "." + parts[1]
	verified := false
	for _, secret := range secrets[:min(len(secrets), MaxSigningSecretsTried)] {
		if jwt.SigningMethodHS256.Verify(signingString, parsed.Signature, []byte(secret)) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, &jwtFailure{reason: "bad_signature", answer: invalidJWT("the JWT does not verify: " + jwt.ErrTokenSignatureInvalid.Error())}
	}
	if err := sfmcClaimsValidator.Validate(c); err != nil {
		reason := "invalid_claims"
		if errors.Is(err, jwt.ErrTokenExpired) {
			reason = "expired"
		}
		return nil, &jwtFailure{reason: reason, answer: invalidJWT("the JWT does not verify: " + jwt.ErrTokenInvalidClaims.Error() + ": " + err.Error())}
	}
	return c, nil
}

// verifyJourneyBuilder verifies a Journey Builder call's token for the tenant and returns its claims, or answers
// the failure and returns false. A failure counts towards the tenant's limit (JWTFailureLimit): past it, the
// answer is 429 with Retry-After instead. A token that verifies is never refused by the limit, since it is
// checked first. Failures are logged at info, at most one line per tenant per second, with the number of
// failures since the last line; the line holds the reason, never the token.
func (s server) verifyJourneyBuilder(w http.ResponseWriter, r *http.Request, tenantID, token string, secrets []string, claims func() jwt.Claims) (jwt.Claims, bool) {
	c, err := verifySFMCToken(token, secrets, claims)
	if err == nil {
		return c, true
	}
	reason := "unverifiable"
	var f *jwtFailure
	if errors.As(err, &f) {
		reason = f.reason
	}
	verdict := s.jwtFailures.fail(tenantID)
	if verdict.logCount > 0 {
		s.securityLog(r).WithFields(logrus.Fields{
			"reason": reason, "failures": verdict.logCount, "limited": verdict.retryAfter > 0,
		}).Info("JWT verification failed")
	}
	if verdict.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(verdict.retryAfter.Seconds()))))
		s.respondError(w, r, &httperr.Error{Status: http.StatusTooManyRequests, Code: "too_many_jwt_failures",
			Message: fmt.Sprintf("more than %d JWTs failed to verify for this tenant in %s; retry later", JWTFailureLimit, JWTFailureWindow)})
		return nil, false
	}
	s.respondError(w, r, err)
	return nil, false
}
