// Package webhook delivers pass updates to a tenant's webhook: a signed JSON POST.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/push"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body, keyed with the webhook secret.
const SignatureHeader = "X-Passpush-Signature"

// Kind is the channel's name in results.
const Kind = "webhook"

// Webhooks reads tenants' webhooks: credentials.Clients, which decodes each once per change.
type Webhooks interface {
	// Get returns the tenant's webhook of that name, or an error wrapping credentials.ErrNotFound.
	Get(ctx context.Context, tenantID, name string) (credentials.Webhook, error)
}

// Channel posts updates to tenants' webhooks. A tenant has one webhook, so a pass has one target on it.
type Channel struct {
	client   *http.Client
	webhooks Webhooks
}

var _ push.Channel = Channel{}

// NewChannel returns the webhook channel. client should have a timeout: a timeout is retried.
func NewChannel(client *http.Client, webhooks Webhooks) (Channel, error) {
	if client == nil || webhooks == nil {
		return Channel{}, errors.New("new webhook channel: client and webhooks are required")
	}
	return Channel{client: client, webhooks: webhooks}, nil
}

// Kind implements push.Channel.
func (Channel) Kind() string { return Kind }

// Targets implements push.Channel: the tenant's webhook, when it has one.
func (c Channel) Targets(ctx context.Context, tenantID, _ string) ([]push.Target, error) {
	_, err := c.webhooks.Get(ctx, tenantID, credentials.DefaultName)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return nil, push.ErrNotSetUp
	case err != nil:
		return nil, fmt.Errorf("webhook of tenant %s: %w", tenantID, err)
	}
	return []push.Target{{ID: credentials.DefaultName, Credential: credentials.DefaultName}}, nil
}

// body is the webhook's documented JSON: its names are a public contract, apart from how the update is queued.
type body struct {
	EventID              string            `json:"eventId"`
	TenantID             string            `json:"tenantId"`
	PassID               string            `json:"passId"`
	PassType             string            `json:"passType"`
	Version              int               `json:"version"`
	Data                 map[string]string `json:"data"`
	Message              string            `json:"message"`
	JourneyID            string            `json:"journeyId"`
	ActivityID           string            `json:"activityId"`
	DefinitionInstanceID string            `json:"definitionInstanceId"`
}

// Sign returns the signature header value of body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Push implements push.Channel. 2xx is delivered; 5xx, 429 and network errors or timeouts are retried; any
// other status is final.
func (c Channel) Push(ctx context.Context, t push.Target, u push.Update) push.Outcome {
	// Read again rather than carried in the target: a secret changed since the targets were listed applies.
	endpoint, err := c.webhooks.Get(ctx, u.TenantID, t.Credential)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return push.Outcome{Kind: push.Gone, Reason: "the tenant's webhook was removed"}
	case err != nil:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("read webhook: %v", err)}
	}
	payload, err := json.Marshal(body{
		EventID: u.EventID, TenantID: u.TenantID, PassID: u.PassID, PassType: u.PassType, Version: u.Revision,
		Data: u.Data, Message: u.Message, JourneyID: u.JourneyID, ActivityID: u.ActivityID,
		DefinitionInstanceID: u.DefinitionInstanceID,
	})
	if err != nil {
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("encode webhook body: %v", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.URL, bytes.NewReader(payload))
	if err != nil {
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("webhook request: %v", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "passpush-webhook/1")
	req.Header.Set(SignatureHeader, Sign([]byte(endpoint.Secret), payload))
	res, err := c.client.Do(req)
	if err != nil {
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("webhook: %v", err)}
	}
	// Drain a little so the connection can be reused; the receiver's body is not ours to read in full.
	_, _ = io.CopyN(io.Discard, res.Body, 4096)
	_ = res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return push.Outcome{Kind: push.Delivered}
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("webhook answered %d", res.StatusCode)}
	default:
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("webhook answered %d", res.StatusCode)}
	}
}
