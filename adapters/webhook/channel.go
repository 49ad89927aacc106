// Package webhook delivers pass updates to a tenant's webhook: a signed JSON POST, sent only where the
// deployment's policy lets passpush reach, by a client that keeps to it.
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
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
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

// Policy decides which webhooks passpush calls: which URLs (checked when a tenant's webhook is saved, and again
// before each push, for URLs stored before the rules) and which addresses (checked on the address actually
// dialled, so a name that resolves to an internal address, now or after a DNS change, is refused too).
type Policy struct {
	allowInsecure bool
	allow         []netip.Prefix
}

// NewPolicy returns the policy of cfg.
func NewPolicy(cfg Config) Policy {
	return Policy{allowInsecure: cfg.AllowInsecure, allow: cfg.AllowCIDRs}
}

// CheckWebhookURL reports why passpush would not call rawURL: it must be https, or http to a loopback host
// when insecure webhooks are allowed; an IP literal host must be an address the policy lets passpush reach.
// The error never holds the URL's userinfo or query.
func (p Policy) CheckWebhookURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("webhook url must be an absolute https URL")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !p.allowInsecure {
			return fmt.Errorf("webhook url must be https (http:// only for a loopback host in development, with PASSPUSH_ALLOW_INSECURE_WEBHOOKS=true)")
		}
		if !isLoopbackHost(host) {
			return fmt.Errorf("webhook url must be https: http:// is allowed only for a loopback host (localhost, 127.0.0.1, ::1), and %s is not one", host)
		}
	default:
		return fmt.Errorf("webhook url must be an absolute https URL")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.checkAddr(addr); err != nil {
			return fmt.Errorf("%w (PASSPUSH_WEBHOOK_ALLOW_CIDRS can open its range)", err)
		}
	}
	return nil
}

// isLoopbackHost reports a host that names this machine: an address of the loopback range, or localhost.
func isLoopbackHost(host string) bool {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().IsLoopback()
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

var (
	nat64              = netip.MustParsePrefix("64:ff9b::/96")
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
)

// AddressError is a dial refused because of the address it would reach.
type AddressError struct {
	Addr   netip.Addr
	Reason string // loopback, private, link-local, shared (carrier-grade NAT), multicast, unspecified, broadcast
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("webhook address %s is %s", e.Addr, e.Reason)
}

// checkAddr refuses an address inside passpush's network or the machine itself, unless an allowed range holds
// it. An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
func (p Policy) checkAddr(addr netip.Addr) error {
	plain := addr.Unmap()
	// A NAT64 address (64:ff9b::/96) reaches the IPv4 address in its last four bytes through the network's
	// translator, so it is judged as that address.
	if nat64.Contains(plain) {
		b := plain.As16()
		plain = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, allowed := range p.allow {
		if allowed.Contains(addr) || allowed.Contains(plain) {
			return nil
		}
	}
	reason := ""
	switch {
	case plain.IsLoopback():
		reason = "loopback"
	case plain.IsPrivate(): // RFC 1918 and RFC 4193 (fc00::/7)
		reason = "private"
	case plain.IsLinkLocalUnicast(): // 169.254.0.0/16, with the clouds' metadata service, and fe80::/10
		reason = "link-local"
	case sharedAddressSpace.Contains(plain): // RFC 6598, where some clouds keep their metadata and DNS services
		reason = "shared (carrier-grade NAT)"
	case plain.IsMulticast():
		reason = "multicast"
	case plain.IsUnspecified(), plain.Is4() && plain.As4()[0] == 0: // 0.0.0.0/8 reaches this machine on Linux
		reason = "unspecified"
	case plain == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		reason = "broadcast"
	default:
		return nil
	}
	return &AddressError{Addr: addr, Reason: reason}
}

// control is the dialer's net.Dialer.ControlContext: it runs on each address the dialer is about to connect
// to, after DNS, so it judges the address the connection would reach.
func (p Policy) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook address %q: %w", address, err)
	}
	return p.checkAddr(ap.Addr())
}

// dialer returns a dialer that connects only to the addresses the policy allows.
func (p Policy) dialer() *net.Dialer {
	return &net.Dialer{Timeout: DefaultTimeout, KeepAlive: DefaultTimeout * 3, ControlContext: p.control}
}

// newClient returns the client the channel posts with. Its rules are part of the webhook policy, so the
// channel builds it rather than taking one:
//   - It dials through the policy's dialer, which refuses internal addresses after DNS.
//   - It uses no proxy, whatever HTTP_PROXY or HTTPS_PROXY say: through a proxy the address dialled would be
//     the proxy's, and the proxy would reach the internal address the dialer refuses.
//   - It follows no redirect: a redirect would send the signed body to a URL nobody checked. The channel sees
//     the 3xx and fails the push.
func newClient(cfg Config, p Policy) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DialContext = p.dialer().DialContext
	// Deliveries run hundreds at a time, mostly to one host per tenant.
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 512
	return &http.Client{
		Transport:     transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
