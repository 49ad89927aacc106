package apple

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/push"
	"github.com/sideshow/apns2"
)

// ChannelKind is the Apple channel's name in results.
const ChannelKind = "apple"

// DefaultAPNsURL is Apple's production push service: Wallet passes have no sandbox.
const DefaultAPNsURL = apns2.HostProduction

// DefaultPushTimeout bounds one push, from the dial to APNs' answer; a push that takes longer is retried.
const DefaultPushTimeout = 10 * time.Second

// Device is one device that holds a pass: what the registrations read model says of it.
type Device struct {
	// ID is the device library identifier Wallet registered with.
	ID string
	// PassTypeID is the Pass Type ID of the registration: the push's topic and the certificate it is made with.
	PassTypeID string
	// PushToken is where APNs delivers the push.
	PushToken string
}

// Devices answers which devices hold a pass: the registrations read model of the PassKit web service.
type Devices interface {
	// Devices returns the devices registered for the tenant's pass; none when the pass is not installed.
	Devices(ctx context.Context, tenantID, passID string) ([]Device, error)
}

// PassSigner signs a pass's current version into the cache the PassKit web service serves passes from
// (query.ApplePassHandler.SignAhead).
type PassSigner interface {
	SignAhead(ctx context.Context, tenantID, passID string) error
}

// ChannelConfig tunes the Apple channel. Zero fields take the defaults.
type ChannelConfig struct {
	// URL is APNs' address, DefaultAPNsURL unless tests or staging point it at a fake.
	URL string
	// RootCAs, when set, are the roots APNs' server certificate is checked against, for tests in one process.
	// nil means the system's roots (which SSL_CERT_FILE can name). Verification is never turned off.
	RootCAs *x509.CertPool
	// Timeout bounds one push: DefaultPushTimeout.
	Timeout time.Duration
	// Clients tunes the cache of APNs clients, one per certificate.
	Clients credentials.ClientsConfig
	// SignAhead has the service sign each pass's new version before the push that announces it
	// (Channel.SignAheadWith). The channel itself does not read it.
	SignAhead bool
}

func (c *ChannelConfig) setDefaults() {
	if c.URL == "" {
		c.URL = DefaultAPNsURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultPushTimeout
	}
}

// Validate reports a config the channel cannot run with.
func (c ChannelConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("APNs URL %q must be https://host[:port]", c.URL)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("push timeout %s must be positive", c.Timeout)
	}
	return nil
}

// Channel pushes a pass's updates to the devices that hold it, through APNs: one push per device, an empty
// payload `{}` on the pass's Pass Type ID as topic, after which Wallet fetches the pass again from the PassKit
// web service. It needs only a pass's latest state.
type Channel struct {
	// configured tells at once, from a cache, that a tenant has no certificate, so it costs a delivery no query.
	configured *credentials.Presence
	devices    Devices
	clients    *credentials.Clients[*apnsClient]
	// signer, when set, signs the pass before its devices are pushed (SignAheadWith).
	signer PassSigner
}

var (
	_ push.Channel    = (*Channel)(nil)
	_ push.LatestOnly = (*Channel)(nil)
)

// NewChannel returns the Apple channel on the tenants' Pass Type ID certificates in store and the devices'
// registrations. Close it at shutdown.
func NewChannel(cfg ChannelConfig, store *credentials.Store, devices Devices) (*Channel, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid Apple channel config: %w", err)
	}
	if store == nil || devices == nil {
		return nil, errors.New("new Apple channel: store and devices are required")
	}
	clients, err := credentials.NewClients(store, KindCertificate,
		func(c credentials.Credential) (*apnsClient, error) { return newAPNsClient(c, cfg) }, cfg.Clients)
	if err != nil {
		return nil, err
	}
	configured, err := credentials.NewPresence(store, KindCertificate, cfg.Clients)
	if err != nil {
		return nil, err
	}
	return &Channel{configured: configured, devices: devices, clients: clients}, nil
}

// SignAheadWith has the channel sign each pass with s before it pushes the pass's devices: every device that a
// push wakes fetches the pass at once, so the signature is made then anyway, and the fetches find it made rather
// than each waiting for it. Call it before the first push.
func (c *Channel) SignAheadWith(s PassSigner) { c.signer = s }

// Kind implements push.Channel.
func (*Channel) Kind() string { return ChannelKind }

// LatestOnly implements push.LatestOnly: Wallet fetches the pass as it is now, so a superseded update is not
// pushed.
func (*Channel) LatestOnly() bool { return true }

// Targets implements push.Channel: each device registered for the pass, pushed with the certificate of its
// registration's Pass Type ID. It returns push.ErrNotSetUp when the tenant has no Apple certificate.
func (c *Channel) Targets(ctx context.Context, tenantID, passID string) ([]push.Target, error) {
	configured, err := c.configured.Has(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !configured {
		return nil, push.ErrNotSetUp
	}
	devices, err := c.devices.Devices(ctx, tenantID, passID)
	if err != nil {
		return nil, fmt.Errorf("devices of pass %s of tenant %s: %w", passID, tenantID, err)
	}
	if len(devices) > 0 && c.signer != nil {
		// A pass that cannot be signed now (its template or certificate gone) is still pushed: the device's fetch
		// then signs it, or answers why not, as it did before signing ahead.
		_ = c.signer.SignAhead(ctx, tenantID, passID)
	}
	targets := make([]push.Target, 0, len(devices))
	for _, d := range devices {
		targets = append(targets, push.Target{ID: d.ID, Credential: d.PassTypeID, Address: d.PushToken})
	}
	return targets, nil
}

// Push implements push.Channel: one APNs push to the device, with the certificate of its Pass Type ID. See
// outcome for what each answer means.
func (c *Channel) Push(ctx context.Context, t push.Target, u push.Update) push.Outcome {
	if !validPushToken(t.Address) {
		// APNs would answer BadDeviceToken; a token that is not one cannot be put in the path either.
		return push.Outcome{Kind: push.Gone, Reason: ReasonBadToken}
	}
	client, err := c.clients.Get(ctx, u.TenantID, t.Credential)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return push.Outcome{Kind: push.Rejected, Reason: fmt.Sprintf(
			"no Apple certificate for Pass Type ID %q of the device's registration: add it with `passpush apple certificate add`", t.Credential)}
	case errors.Is(err, errUnusableCertificate):
		return push.Outcome{Kind: push.Rejected, Reason: err.Error()}
	case err != nil:
		return push.Outcome{Kind: push.Retry, Reason: fmt.Sprintf("read the Apple certificate of %q: %v", t.Credential, err)}
	}
	return client.push(ctx, t.Address, t.Credential)
}

// Close closes the APNs clients. Call it once no push runs any more, at shutdown.
func (c *Channel) Close() {
	c.clients.Close()
}

// validPushToken reports whether token can be put in APNs' path as it is. APNs' tokens are hex; anything that
// would need escaping is not one.
func validPushToken(token string) bool {
	return token != "" && len(token) <= 512 && url.PathEscape(token) == token
}
