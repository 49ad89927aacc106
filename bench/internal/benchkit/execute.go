package benchkit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"net/http"
)

// ExecutePath is the route of Journey Builder's execute call under /api/{tenant}.
const ExecutePath = "/webhooks/listeners/sfmc/actions/pushupdate/execute"

// PassCheckExecutePath is the route of the "Wallet pass?" split's execute call under /api/{tenant}.
const PassCheckExecutePath = "/webhooks/listeners/sfmc/actions/passcheck/execute"

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}), what Journey Builder sends.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Signer signs HS256 JWTs as Journey Builder does, without reflection or allocations beyond the token: the load
// generator shares the machine's cores with the service and the database, and what it spends is taken from them.
// A Signer is not safe for concurrent use; give each goroutine its own.
type Signer struct {
	mac hash.Hash
	buf []byte
}

// NewSigner returns a Signer for the tenant's SFMC signing secret.
func NewSigner(secret string) *Signer {
	return &Signer{mac: hmac.New(sha256.New, []byte(secret)), buf: make([]byte, 0, 1024)}
}

// Sign returns the token of the claims (JSON). The token is valid until the next call to Sign.
func (s *Signer) Sign(claims []byte) []byte {
	b := append(s.buf[:0], jwtHeader...)
	b = append(b, '.')
	b = base64.RawURLEncoding.AppendEncode(b, claims)
	s.mac.Reset()
	s.mac.Write(b)
	b = append(b, '.')
	var sum [sha256.Size]byte
	b = base64.RawURLEncoding.AppendEncode(b, s.mac.Sum(sum[:0]))
	s.buf = b
	return b
}

// ExecuteToken signs the claims of one contact entry reaching the activity, as Journey Builder sends them: entry
// is its definitionInstanceId (what makes two calls distinct), contact its keyValue, inArguments the activity's
// arguments (passId first). For benchmarks whose generator is not their bottleneck; a hot loop should reuse a
// Signer.
func ExecuteToken(secret, entry, contact string, inArguments ...map[string]any) ([]byte, error) {
	claims, err := json.Marshal(map[string]any{
		"inArguments": inArguments, "outArguments": []any{}, "activityObjectID": "object-1", "journeyId": "journey-bench",
		"activityId": "activity-1", "definitionInstanceId": entry, "activityInstanceId": "instance-1",
		"keyValue": contact, "mode": 0,
	})
	if err != nil {
		return nil, err
	}
	return bytes.Clone(NewSigner(secret).Sign(claims)), nil
}

// PostExecute sends a signed execute call for the tenant to the service at baseURL and returns the answer.
func PostExecute(ctx context.Context, client *http.Client, baseURL, tenantID string, token []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/"+tenantID+ExecutePath, bytes.NewReader(token))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/jwt")
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body) // a cut-short answer fails the caller's check of the body
	return res.StatusCode, body, nil
}
