package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/ports/http/httperr"
)

// compactJWT is three base64url segments; it tells a token from JSON or garbage before any parsing.
var compactJWT = regexp.MustCompile(`^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$`)

func invalidJWT(message string) *httperr.Error {
	return &httperr.Error{Status: http.StatusUnauthorized, Code: "invalid_jwt", Message: message}
}

// sfmcBody is what Journey Builder sent: a compact JWT (raw, or wrapped as {"jwt"} or {"token"}), or, on the
// lifecycle routes, plain JSON.
type sfmcBody struct {
	token string
	plain json.RawMessage
}

// readSFMCBody tells the three shapes apart. Anything else is not a request we understand: 400.
func readSFMCBody(body []byte) (sfmcBody, error) {
	trimmed := bytes.TrimSpace(body)
	if compactJWT.Match(trimmed) {
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
		if !compactJWT.MatchString(token) {
			return sfmcBody{}, httperr.BadRequest(fmt.Sprintf("%q does not hold a compact JWT", key))
		}
		return sfmcBody{token: token}, nil
	}
	return sfmcBody{plain: trimmed}, nil
}

// verifySFMCToken checks the token's HS256 signature against each of the tenant's signing secrets (more than one
// during a rotation) and decodes its claims into claims. The algorithm is pinned: none, RS*, ES* and the rest are
// refused. SFMC sends no exp or iat, so neither is required; one that is present is honoured.
func verifySFMCToken(token string, secrets []string, claims func() jwt.Claims) (jwt.Claims, error) {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuedAt(), jwt.WithJSONNumber())
	var lastErr error
	for _, secret := range secrets {
		c := claims()
		_, err := parser.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return []byte(secret), nil })
		if err == nil {
			return c, nil
		}
		lastErr = err
		// Only a signature mismatch can be cured by the next secret.
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			break
		}
	}
	switch {
	case lastErr == nil:
		return nil, invalidJWT("the tenant has no signing secret")
	case errors.Is(lastErr, jwt.ErrTokenMalformed):
		return nil, httperr.BadRequest("malformed JWT: " + lastErr.Error())
	default:
		return nil, invalidJWT("the JWT does not verify: " + lastErr.Error())
	}
}
