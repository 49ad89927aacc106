// Package webhook delivers pass updates to a tenant's webhook: a signed JSON POST.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/passpush/passpush/app/push"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body, keyed with the webhook secret.
const SignatureHeader = "X-Passpush-Signature"

// Channel posts updates to one webhook.
type Channel struct {
	client *http.Client
	url    string
	secret []byte
}

var _ push.Channel = Channel{}

// NewChannel returns the channel of a webhook. client should have a timeout: a timeout is retried.
func NewChannel(client *http.Client, url, secret string) (Channel, error) {
	if client == nil || url == "" || secret == "" {
		return Channel{}, fmt.Errorf("new webhook channel: client, url and secret are required")
	}
	return Channel{client: client, url: url, secret: []byte(secret)}, nil
}

// Name implements push.Channel.
func (Channel) Name() string { return "webhook" }

// Sign returns the signature header value of body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Push implements push.Channel. 2xx is delivered; 5xx, 429 and network errors or timeouts are retryable;
// any other status is final.
func (c Channel) Push(ctx context.Context, u push.Update) error {
	// The webhook body is the update as the app describes it: its JSON names are the documented contract.
	payload, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode webhook body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "passpush-webhook/1")
	req.Header.Set(SignatureHeader, Sign(c.secret, payload))
	res, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w: %w", push.ErrRetryable, err)
	}
	// Drain a little so the connection can be reused; the receiver's body is not ours to read in full.
	_, _ = io.CopyN(io.Discard, res.Body, 4096)
	_ = res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return fmt.Errorf("webhook answered %d: %w", res.StatusCode, push.ErrRetryable)
	default:
		return fmt.Errorf("webhook answered %d", res.StatusCode)
	}
}
