package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/app/dburl"
	"github.com/sirupsen/logrus"
)

// Config is passpush's configuration. Each field comes from an environment variable and can be overridden by a
// flag of the same name; empty fields take the defaults.
type Config struct {
	// DatabaseURL is postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for an SQLite file, or empty for
	// the SQLite file passpush.db in the working directory.
	DatabaseURL string
	// HTTPAddr is the address serve listens on.
	HTTPAddr string
	// MetricsAddr is where serve serves GET /metrics on a listener of its own; empty serves it beside the API on
	// HTTPAddr.
	MetricsAddr string
	// AdminToken guards the management API; empty turns the management API off (it answers 401).
	AdminToken string
	// PublicURL is the base URL Journey Builder reaches passpush at.
	PublicURL string
	// LogLevel is a logrus level: trace, debug, info, warn or error.
	LogLevel string
	// DBMaxConns is the most database connections the process holds, an integer of at least MinDBMaxConns.
	DBMaxConns string
	// DBMaxIdleTime is a Go duration after which an idle database connection is closed.
	DBMaxIdleTime string
	// DeliveryLease is a Go duration: how long a claimed delivery stays hidden from other instances between
	// renewals, so how soon the deliveries of an instance that died are tried again.
	DeliveryLease string
	// DeliveryMaxAttempts is how many attempts a delivery gets; empty means as many as span a day of retries.
	DeliveryMaxAttempts string
	// DeliveryMaxBackoff is a Go duration, the longest wait between two attempts of a delivery.
	DeliveryMaxBackoff string
	// GoogleAPIURL is the Google Wallet API's base URL: a fake's in tests and staging.
	GoogleAPIURL string
	// APNsURL is the address of Apple's push service, https://host[:port]: a fake's in tests and staging.
	APNsURL string
	// AllowInsecureWebhooks is true or false (empty): true allows http:// webhooks to a loopback host, for
	// development.
	AllowInsecureWebhooks string
	// AppleSignAhead is true or false (empty): true signs each Apple pass before the push that announces it.
	AppleSignAhead string
	// WebhookAllowCIDRs lists, separated by commas, the CIDRs a webhook may reach although they are internal.
	WebhookAllowCIDRs string
	// SecretKey is the base64 of the 32-byte key the secrets stored in the database are encrypted with;
	// SecretKeyFile names a file holding it instead. One of them is required on PostgreSQL; on SQLite, without
	// either, a key file is made beside the database.
	SecretKey     string
	SecretKeyFile string
	// SecretKeyPrevious (or SecretKeyPreviousFile) is the key used before SecretKey, during a key rotation: secrets
	// are read with either until passpush secrets rotate-key has encrypted them all with SecretKey.
	SecretKeyPrevious     string
	SecretKeyPreviousFile string
	// TrustedProxies is a comma-separated list of CIDRs (or addresses) whose Forwarded and X-Forwarded-* headers
	// are believed when PublicURL is empty; empty trusts no one.
	TrustedProxies string
	// FrameAncestors is the configuration page's CSP frame-ancestors: the origins that may frame it.
	FrameAncestors string
	// MaxInFlight is how many HTTP requests serve handles at once, a whole number of at least 1; past it, 503.
	MaxInFlight string
	// TenantDeliveryShare is the percentage (1-100) of the delivery slots one tenant may hold while other
	// tenants have deliveries waiting.
	TenantDeliveryShare string
	// MessageRetention is a Go duration: how long serve keeps a message that every consumer group has
	// acknowledged before it prunes it.
	MessageRetention string
}

const (
	DefaultHTTPAddr = ":8080"
	DefaultLogLevel = "info"
	// DefaultDBMaxConns lets four instances fit in PostgreSQL's default max_connections of 100, with room left.
	DefaultDBMaxConns    = "20"
	DefaultDBMaxIdleTime = "5m"
	// MinDBMaxConns is sqldb.MinMaxConns, what serve holds at once under load; a port does not import adapters,
	// so a test keeps the two equal.
	MinDBMaxConns = 8
	// DefaultDeliveryLease and DefaultDeliveryMaxBackoff are the delivery stage's defaults, shown in --help.
	DefaultDeliveryLease      = "10s"
	DefaultDeliveryMaxBackoff = "10m"
	// MinDeliveryLease is delivery.MinLease: the lease is renewed every third of it.
	MinDeliveryLease = 100 * time.Millisecond
	// DefaultGoogleAPIURL is google.DefaultAPIURL, the Wallet API's base URL.
	DefaultGoogleAPIURL = "https://walletobjects.googleapis.com/"
	// DefaultAPNsURL is apple.DefaultAPNsURL, Apple's production push service (passes have no sandbox); a test
	// keeps the two equal.
	DefaultAPNsURL = "https://api.push.apple.com"
	// DefaultFrameAncestors is httpport.DefaultFrameAncestors, Marketing Cloud's origins; a test keeps the two
	// equal.
	DefaultFrameAncestors = "https://*.exacttarget.com https://*.marketingcloudapps.com"
	// DefaultMaxInFlight is httpport.DefaultMaxInFlight.
	DefaultMaxInFlight = "1024"
	// DefaultTenantDeliveryShare is delivery.DefaultTenantShare, in percent.
	DefaultTenantDeliveryShare = "25"
	// DefaultMessageRetention is messaging.DefaultMessageRetention.
	DefaultMessageRetention = "1h"
)

// setting ties a Config field to its environment variable and flag, so the two never drift apart and --help can
// name every variable.
type setting struct {
	env, flag, usage, fallback string
	field                      func(c *Config) *string
}

func settings() []setting {
	return []setting{
		{
			env: "PASSPUSH_DATABASE_URL", flag: "database-url",
			usage: "database: postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for an SQLite file; empty means the SQLite file passpush.db in the working directory",
			field: func(c *Config) *string { return &c.DatabaseURL },
		},
		{
			env: "PASSPUSH_HTTP_ADDR", flag: "http-addr", fallback: DefaultHTTPAddr,
			usage: "address serve listens on, host:port",
			field: func(c *Config) *string { return &c.HTTPAddr },
		},
		{
			env: "PASSPUSH_METRICS_ADDR", flag: "metrics-addr",
			usage: "address, host:port, of a listener of its own for GET /metrics (Prometheus); empty serves /metrics on the HTTP address",
			field: func(c *Config) *string { return &c.MetricsAddr },
		},
		{
			env: "PASSPUSH_ADMIN_TOKEN", flag: "admin-token",
			usage: "bearer token of the management API (Authorization: Bearer TOKEN); empty means the management API answers 401",
			field: func(c *Config) *string { return &c.AdminToken },
		},
		{
			env: "PASSPUSH_PUBLIC_URL", flag: "public-url",
			usage: "base URL Journey Builder reaches passpush at, e.g. https://passpush.example.com",
			field: func(c *Config) *string { return &c.PublicURL },
		},
		{
			env: "PASSPUSH_LOG_LEVEL", flag: "log-level", fallback: DefaultLogLevel,
			usage: "log level: trace, debug, info, warn or error",
			field: func(c *Config) *string { return &c.LogLevel },
		},
		{
			env: "PASSPUSH_DB_MAX_CONNS", flag: "db-max-conns", fallback: DefaultDBMaxConns,
			usage: fmt.Sprintf("most database connections one process holds, at least %d; on PostgreSQL, instances times this must stay below max_connections", MinDBMaxConns),
			field: func(c *Config) *string { return &c.DBMaxConns },
		},
		{
			env: "PASSPUSH_DB_MAX_IDLE_TIME", flag: "db-max-idle-time", fallback: DefaultDBMaxIdleTime,
			usage: "how long a database connection may stay idle before it is closed, a Go duration such as 90s or 5m",
			field: func(c *Config) *string { return &c.DBMaxIdleTime },
		},
		{
			env: "PASSPUSH_DELIVERY_LEASE", flag: "delivery-lease", fallback: DefaultDeliveryLease,
			usage: "how long a claimed delivery is hidden from other instances, a Go duration; it is renewed while the push is in flight, so it is how soon a dead instance's deliveries are tried again",
			field: func(c *Config) *string { return &c.DeliveryLease },
		},
		{
			env: "PASSPUSH_DELIVERY_MAX_ATTEMPTS", flag: "delivery-max-attempts",
			usage: "attempts a delivery gets before PushUpdateFailed is recorded; empty means as many as the backoff schedule makes in 24 hours",
			field: func(c *Config) *string { return &c.DeliveryMaxAttempts },
		},
		{
			env: "PASSPUSH_DELIVERY_MAX_BACKOFF", flag: "delivery-max-backoff", fallback: DefaultDeliveryMaxBackoff,
			usage: "longest wait between two attempts of a delivery, a Go duration; the wait starts at 1s and doubles up to it",
			field: func(c *Config) *string { return &c.DeliveryMaxBackoff },
		},
		{
			env: "PASSPUSH_GOOGLE_API_URL", flag: "google-api-url", fallback: DefaultGoogleAPIURL,
			usage: "base URL of the Google Wallet API (walletobjects v1), for tests and staging; the OAuth token URL is the service account key file's token_uri",
			field: func(c *Config) *string { return &c.GoogleAPIURL },
		},
		{
			env: "PASSPUSH_APNS_URL", flag: "apns-url", fallback: DefaultAPNsURL,
			usage: "address of Apple's push service (APNs), https://host[:port]; its certificate is checked against the system's roots, which SSL_CERT_FILE can name",
			field: func(c *Config) *string { return &c.APNsURL },
		},
		{
			env: "PASSPUSH_APPLE_SIGN_AHEAD", flag: "apple-sign-ahead",
			usage: "true signs each Apple pass's new version before the push that announces it, so that the devices the push wakes fetch it signed; it costs the pushes about 1.2 ms of CPU per pass, whether its device fetches it or not",
			field: func(c *Config) *string { return &c.AppleSignAhead },
		},
		{
			env: "PASSPUSH_ALLOW_INSECURE_WEBHOOKS", flag: "allow-insecure-webhooks",
			usage: "true allows http:// webhook URLs to a loopback host (localhost, 127.0.0.1, ::1), for development; the loopback range must also be in PASSPUSH_WEBHOOK_ALLOW_CIDRS",
			field: func(c *Config) *string { return &c.AllowInsecureWebhooks },
		},
		{
			env: "PASSPUSH_WEBHOOK_ALLOW_CIDRS", flag: "webhook-allow-cidrs",
			usage: "comma-separated CIDRs webhooks may reach although they are loopback, private, link-local, multicast or unspecified, e.g. 10.20.0.0/16 or 127.0.0.0/8,::1/128 for a local receiver",
			field: func(c *Config) *string { return &c.WebhookAllowCIDRs },
		},
		{
			env: "PASSPUSH_SECRET_KEY", flag: "secret-key",
			usage: "base64 of the 32 random bytes the stored secrets are encrypted with (AES-256-GCM), e.g. from: head -c 32 /dev/urandom | base64; required on PostgreSQL; on SQLite, without it, a key file is made beside the database; as a flag it is visible to other users (ps): prefer the environment or the _FILE form",
			field: func(c *Config) *string { return &c.SecretKey },
		},
		{
			env: "PASSPUSH_SECRET_KEY_FILE", flag: "secret-key-file",
			usage: "file holding PASSPUSH_SECRET_KEY instead",
			field: func(c *Config) *string { return &c.SecretKeyFile },
		},
		{
			env: "PASSPUSH_SECRET_KEY_PREVIOUS", flag: "secret-key-previous",
			usage: "the secret key used before PASSPUSH_SECRET_KEY, during a key rotation: secrets are read with either until passpush secrets rotate-key has encrypted them all with the new one",
			field: func(c *Config) *string { return &c.SecretKeyPrevious },
		},
		{
			env: "PASSPUSH_SECRET_KEY_PREVIOUS_FILE", flag: "secret-key-previous-file",
			usage: "file holding PASSPUSH_SECRET_KEY_PREVIOUS instead",
			field: func(c *Config) *string { return &c.SecretKeyPreviousFile },
		},
		{
			env: "PASSPUSH_TRUSTED_PROXIES", flag: "trusted-proxies",
			usage: "comma-separated CIDRs of the reverse proxies whose Forwarded and X-Forwarded-Proto/Host/For headers are believed, e.g. 10.0.0.0/8; empty believes no one. Only used without PASSPUSH_PUBLIC_URL for URLs, always for the client address in the security log",
			field: func(c *Config) *string { return &c.TrustedProxies },
		},
		{
			env: "PASSPUSH_FRAME_ANCESTORS", flag: "frame-ancestors", fallback: DefaultFrameAncestors,
			usage: "space-separated CSP frame-ancestors sources: the origins that may frame the activity's configuration page",
			field: func(c *Config) *string { return &c.FrameAncestors },
		},
		{
			env: "PASSPUSH_MAX_IN_FLIGHT", flag: "max-in-flight", fallback: DefaultMaxInFlight,
			usage: "most HTTP requests served at once; past it a request gets 503 overloaded with Retry-After (GET /healthz is never refused)",
			field: func(c *Config) *string { return &c.MaxInFlight },
		},
		{
			env: "PASSPUSH_TENANT_DELIVERY_SHARE", flag: "tenant-delivery-share", fallback: DefaultTenantDeliveryShare,
			usage: "percentage (1-100) of the delivery slots one tenant's deliveries may hold while other tenants have deliveries waiting, so a slow or failing webhook cannot hold up the others; 100 turns this off",
			field: func(c *Config) *string { return &c.TenantDeliveryShare },
		},
		{
			env: "PASSPUSH_MESSAGE_RETENTION", flag: "message-retention", fallback: DefaultMessageRetention,
			usage: "how long serve keeps a bus message that every consumer group has acknowledged, a Go duration of at least 1s; older ones are pruned in the background (the poison topic never is)",
			field: func(c *Config) *string { return &c.MessageRetention },
		},
	}
}

// configFromEnv reads every PASSPUSH_* variable that is set.
func configFromEnv(lookupEnv func(string) (string, bool)) Config {
	var c Config
	for _, s := range settings() {
		if v, ok := lookupEnv(s.env); ok {
			*s.field(&c) = v
		}
	}
	return c
}

func (c *Config) setDefaults() {
	for _, s := range settings() {
		if f := s.field(c); *f == "" {
			*f = s.fallback
		}
	}
}

// Validate reports every setting passpush cannot run with. It never echoes the admin token or a database password.
func (c Config) Validate() error {
	var err error
	if _, parseErr := dburl.Parse(c.DatabaseURL); parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DATABASE_URL %w", parseErr))
	}
	if _, _, splitErr := net.SplitHostPort(c.HTTPAddr); splitErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_HTTP_ADDR %q must be host:port or :port: %w", c.HTTPAddr, splitErr))
	}
	if c.MetricsAddr != "" {
		if _, _, splitErr := net.SplitHostPort(c.MetricsAddr); splitErr != nil {
			err = errors.Join(err, fmt.Errorf("PASSPUSH_METRICS_ADDR %q must be host:port or :port: %w", c.MetricsAddr, splitErr))
		}
	}
	if c.PublicURL != "" {
		u, parseErr := url.Parse(c.PublicURL)
		if parseErr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			err = errors.Join(err, fmt.Errorf("PASSPUSH_PUBLIC_URL %q must be an absolute http or https URL", c.PublicURL))
		}
	}
	if strings.TrimSpace(c.AdminToken) != c.AdminToken {
		// A token pasted with a trailing newline would never match what clients send.
		err = errors.Join(err, errors.New("PASSPUSH_ADMIN_TOKEN must not start or end with white space"))
	}
	if _, parseErr := logrus.ParseLevel(c.LogLevel); parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_LOG_LEVEL %q must be trace, debug, info, warn or error", c.LogLevel))
	}
	if n, parseErr := strconv.Atoi(c.DBMaxConns); parseErr != nil || n < MinDBMaxConns {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DB_MAX_CONNS %q must be a whole number of at least %d: serve holds that many connections at once under load", c.DBMaxConns, MinDBMaxConns))
	}
	if d, parseErr := time.ParseDuration(c.DBMaxIdleTime); parseErr != nil || d <= 0 {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DB_MAX_IDLE_TIME %q must be a positive Go duration such as 90s or 5m", c.DBMaxIdleTime))
	}
	// Empty delivery settings take the delivery stage's defaults.
	if d, parseErr := time.ParseDuration(c.DeliveryLease); c.DeliveryLease != "" && (parseErr != nil || d < MinDeliveryLease) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DELIVERY_LEASE %q must be a Go duration of at least %s, such as 10s", c.DeliveryLease, MinDeliveryLease))
	}
	if n, parseErr := strconv.Atoi(c.DeliveryMaxAttempts); c.DeliveryMaxAttempts != "" && (parseErr != nil || n < 1) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DELIVERY_MAX_ATTEMPTS %q must be a whole number of at least 1, or empty", c.DeliveryMaxAttempts))
	}
	// The first wait is 1s; a shorter longest wait would make the schedule shrink.
	if d, parseErr := time.ParseDuration(c.DeliveryMaxBackoff); c.DeliveryMaxBackoff != "" && (parseErr != nil || d < time.Second) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DELIVERY_MAX_BACKOFF %q must be a Go duration of at least 1s, such as 10m", c.DeliveryMaxBackoff))
	}
	// Empty takes the Apple channel's default, as the delivery settings do.
	if u, parseErr := url.Parse(c.APNsURL); c.APNsURL != "" && (parseErr != nil || u.Scheme != "https" || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_APNS_URL %q must be an https URL with a host and no path, such as %s", c.APNsURL, DefaultAPNsURL))
	}
	if u, parseErr := url.Parse(c.GoogleAPIURL); c.GoogleAPIURL != "" && (parseErr != nil ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_GOOGLE_API_URL %q must be an absolute http or https URL, such as %s", c.GoogleAPIURL, DefaultGoogleAPIURL))
	}
	if _, parseErr := strconv.ParseBool(c.AppleSignAhead); c.AppleSignAhead != "" && parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_APPLE_SIGN_AHEAD %q must be true or false", c.AppleSignAhead))
	}
	if _, parseErr := strconv.ParseBool(c.AllowInsecureWebhooks); c.AllowInsecureWebhooks != "" && parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_ALLOW_INSECURE_WEBHOOKS %q must be true or false", c.AllowInsecureWebhooks))
	}
	if _, parseErr := c.WebhookPolicy(); parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_WEBHOOK_ALLOW_CIDRS: %w", parseErr))
	}
	if _, _, keyErr := c.SecretKeys(); keyErr != nil {
		err = errors.Join(err, keyErr)
	}
	if _, parseErr := c.TrustedProxyPrefixes(); parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_TRUSTED_PROXIES %q must be comma-separated CIDRs or addresses, such as 10.0.0.0/8,192.168.1.7: %w", c.TrustedProxies, parseErr))
	}
	if c.FrameAncestors != "" && !frameAncestorsPattern.MatchString(c.FrameAncestors) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_FRAME_ANCESTORS %q must be space-separated CSP sources, such as %s", c.FrameAncestors, DefaultFrameAncestors))
	}
	// Empty takes the defaults, as the delivery settings do.
	if n, parseErr := strconv.Atoi(c.MaxInFlight); c.MaxInFlight != "" && (parseErr != nil || n < 1) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_MAX_IN_FLIGHT %q must be a whole number of at least 1, such as %s", c.MaxInFlight, DefaultMaxInFlight))
	}
	if n, parseErr := strconv.Atoi(strings.TrimSuffix(c.TenantDeliveryShare, "%")); c.TenantDeliveryShare != "" && (parseErr != nil || n < 1 || n > 100) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_TENANT_DELIVERY_SHARE %q must be a whole percentage from 1 to 100, such as %s", c.TenantDeliveryShare, DefaultTenantDeliveryShare))
	}
	if d, parseErr := time.ParseDuration(c.MessageRetention); c.MessageRetention != "" && (parseErr != nil || d < time.Second) {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_MESSAGE_RETENTION %q must be a Go duration of at least 1s, such as %s", c.MessageRetention, DefaultMessageRetention))
	}
	return err
}

// WebhookPolicy is the webhook settings as values: whether http:// to loopback is allowed, and the ranges
// webhooks may reach although they are internal.
type WebhookPolicy struct {
	AllowInsecure bool
	AllowCIDRs    []netip.Prefix
}

// WebhookPolicy returns the webhook settings as values, or why PASSPUSH_WEBHOOK_ALLOW_CIDRS does not parse.

// SignAhead is PASSPUSH_APPLE_SIGN_AHEAD; Validate has refused anything but true, false or empty.
func (c Config) SignAhead() bool {
	on, _ := strconv.ParseBool(c.AppleSignAhead)
	return on
}

// Empty settings mean https only and no internal address.
func (c Config) WebhookPolicy() (WebhookPolicy, error) {
	var p WebhookPolicy
	p.AllowInsecure, _ = strconv.ParseBool(c.AllowInsecureWebhooks)
	for _, s := range strings.Split(c.WebhookAllowCIDRs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return WebhookPolicy{}, fmt.Errorf("%q is not a CIDR such as 10.20.0.0/16 or fd00::/8", s)
		}
		p.AllowCIDRs = append(p.AllowCIDRs, prefix.Masked())
	}
	return p, nil
}

// SecretKeyBytes is the length of a secret key: AES-256.
const SecretKeyBytes = 32

// SecretKeys returns the current and previous secret keys as base64 text, reading the files that hold them, and
// checks that each is the base64 of SecretKeyBytes bytes. current is empty when neither PASSPUSH_SECRET_KEY nor its
// file is set, which only SQLite allows. The errors never quote a key.
func (c Config) SecretKeys() (current, previous string, err error) {
	current, err = secretKey("PASSPUSH_SECRET_KEY", c.SecretKey, c.SecretKeyFile)
	previous, prevErr := secretKey("PASSPUSH_SECRET_KEY_PREVIOUS", c.SecretKeyPrevious, c.SecretKeyPreviousFile)
	err = errors.Join(err, prevErr)
	if target, parseErr := dburl.Parse(c.DatabaseURL); parseErr == nil && target.Kind == dburl.Postgres && current == "" && err == nil {
		err = errors.New("PASSPUSH_SECRET_KEY or PASSPUSH_SECRET_KEY_FILE must be set on PostgreSQL: the secrets stored in the database (SFMC signing secrets, webhook secrets, Apple and Google keys) are encrypted with it; make one with: head -c 32 /dev/urandom | base64")
	}
	if previous != "" && current == "" && err == nil {
		err = errors.New("PASSPUSH_SECRET_KEY_PREVIOUS is set without PASSPUSH_SECRET_KEY: a rotation needs the new key as the current one")
	}
	if err != nil {
		return "", "", err
	}
	return current, previous, nil
}

// secretKey reads one key from its variable or its file, which may not both be set.
func secretKey(name, value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set; set one", name, name)
	case file != "":
		return readSecretKeyFile(name+"_FILE", file)
	case value == "":
		return "", nil
	}
	return checkSecretKey(name, value)
}

// readSecretKeyFile reads a key from file; what names the setting in errors.
func readSecretKeyFile(what, file string) (string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return checkSecretKey(what+" "+file, string(text))
}

// checkSecretKey checks that value is the base64 of a key, and returns it without the white space around it.
func checkSecretKey(what, value string) (string, error) {
	value = strings.TrimSpace(value)
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(raw) != SecretKeyBytes {
		return "", fmt.Errorf("%s must hold the standard base64 of %d random bytes, such as head -c 32 /dev/urandom | base64 makes", what, SecretKeyBytes)
	}
	return value, nil
}

// frameAncestorsPattern is a list of CSP source expressions ('self', 'none', a scheme such as https:, or
// [scheme://]host[:port][/path] with * wildcards): nothing that could end the directive or the header.
var frameAncestorsPattern = regexp.MustCompile(`^\s*(?:(?:'self'|'none'|[A-Za-z][A-Za-z0-9+.-]*:|(?:[A-Za-z][A-Za-z0-9+.-]*://)?[A-Za-z0-9*.-]+(?::(?:[0-9]+|\*))?(?:/[A-Za-z0-9._~/%-]*)?)(?:\s+|$))+$`)

// TrustedProxyPrefixes parses TrustedProxies: comma-separated CIDRs, a bare address being one host.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, part := range strings.Split(c.TrustedProxies, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			addr, err := netip.ParseAddr(part)
			if err != nil {
				return nil, err
			}
			addr = addr.Unmap()
			prefixes = append(prefixes, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

// Limits returns the abuse limits as numbers. Call it on a validated config: zeros, which mean the defaults of
// the HTTP port and the delivery stage, stand for what is empty.
func (c Config) Limits() (maxInFlight, tenantDeliveryShare int) {
	maxInFlight, _ = strconv.Atoi(c.MaxInFlight)
	tenantDeliveryShare, _ = strconv.Atoi(strings.TrimSuffix(c.TenantDeliveryShare, "%"))
	return maxInFlight, tenantDeliveryShare
}

// DeliverySchedule returns the delivery settings as numbers. Call it on a validated config: zeros, which mean the
// delivery stage's defaults, stand for what is empty.
func (c Config) DeliverySchedule() (lease time.Duration, maxAttempts int, maxBackoff time.Duration) {
	lease, _ = time.ParseDuration(c.DeliveryLease)
	maxAttempts, _ = strconv.Atoi(c.DeliveryMaxAttempts)
	maxBackoff, _ = time.ParseDuration(c.DeliveryMaxBackoff)
	return lease, maxAttempts, maxBackoff
}

// MessageRetentionDuration returns MessageRetention as a duration. Call it on a validated config: zero, which
// means the pruner's default, stands for what is empty.
func (c Config) MessageRetentionDuration() time.Duration {
	d, _ := time.ParseDuration(c.MessageRetention)
	return d
}

// DBPool returns the connection settings as numbers. Call it on a validated config: it returns zeros, which mean
// the database adapter's defaults, for anything that does not parse.
func (c Config) DBPool() (maxConns int, maxIdleTime time.Duration) {
	maxConns, _ = strconv.Atoi(c.DBMaxConns)
	maxIdleTime, _ = time.ParseDuration(c.DBMaxIdleTime)
	return maxConns, maxIdleTime
}
