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
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/push"
)

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
	policy   Policy
	webhooks Webhooks
	now      func() time.Time
}

var _ push.Channel = Channel{}

// NewChannel returns the webhook channel, which calls only the webhooks cfg's policy allows.
func NewChannel(cfg Config, webhooks Webhooks) (Channel, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Channel{}, fmt.Errorf("invalid webhook config: %w", err)
	}
	if webhooks == nil {
		return Channel{}, errors.New("new webhook channel: webhooks are required")
	}
	policy := NewPolicy(cfg)
	return Channel{client: newClient(cfg, policy), policy: policy, webhooks: webhooks, now: time.Now}, nil
}

// Policy returns the rules the channel calls webhooks by, for checking a URL when it is saved.
func (c Channel) Policy() Policy { return c.policy }

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

// Push implements push.Channel. 2xx is delivered; 5xx, 429 and network errors or timeouts are retried; a
// refused URL or address, a redirect and any other status are final.
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
	// A URL stored before the policy, or before the deployment's policy changed, is refused here.
	if err := c.policy.CheckWebhookURL(endpoint.URL); err != nil {
		return push.Outcome{Kind: push.Rejected, Reason: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.URL, bytes.NewReader(payload))
	if err != nil {
		return push.Outcome{Kind: push.Rejected, Reason: "webhook request: the url does not make a request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "passpush-webhook/1")
	req.Header.Set(SignatureHeader, Sign(c.now(), endpoint.Secrets, payload))
	res, err := c.client.Do(req)
	if err != nil {
		return failure(req.URL, err)
	}
	// Drain a little so the connection can be reused; the receiver's body is not ours to read in full.
	_, _ = io.CopyN(io.Discard, res.Body, 4096)
	_ = res.Body.Close()
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return push.Outcome{Kind: push.Delivered}
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("webhook answered %d; redirects are not followed", res.StatusCode)}
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("webhook answered %d", res.StatusCode)}
	default:
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf("webhook answered %d", res.StatusCode)}
	}
}

// SignatureHeader carries the request's signature: "t=<unix seconds>,v1=<hex>", with one v1 per active webhook
// secret, each the HMAC-SHA256 of "<t>.<body>" keyed with that secret. The timestamp lets a receiver refuse a
// replay of an old request; several v1 let it keep working with either secret during a rotation.
const SignatureHeader = "X-Passpush-Signature"

// Sign returns the signature header value of body, sent at t, for each of secrets.
func Sign(t time.Time, secrets []string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
