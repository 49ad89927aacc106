package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/ports/http/httperr"
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
