package benchkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// AdminCall calls the management API with the admin token, the way an operator's script sets up tenants, so
// that a benchmark's setting up goes through the same checks as production's. body is JSON, or nil. Each call
// has its own 30 s deadline: a setting-up step that hangs must fail the run, not stall it.
func AdminCall(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}
