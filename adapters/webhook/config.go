package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultTimeout bounds one attempt: a receiver slower than this is retried later.
const DefaultTimeout = 10 * time.Second

// Config is the deployment's webhook policy and the client's tuning. Zero fields take the defaults, which are
// the safe ones: https only, and no private, loopback or link-local address.
type Config struct {
	// Timeout bounds one attempt, from dialling to the answer's headers.
	Timeout time.Duration
	// AllowInsecure is PASSPUSH_ALLOW_INSECURE_WEBHOOKS: http:// URLs are allowed, for a loopback host only, in
	// development. The address rules still apply: the loopback range must be opened by AllowCIDRs too.
	AllowInsecure bool
	// AllowCIDRs is PASSPUSH_WEBHOOK_ALLOW_CIDRS: ranges a webhook may reach although the address rules refuse
	// them, e.g. a receiver on the private network, or 127.0.0.0/8 and ::1/128 in tests.
	AllowCIDRs []netip.Prefix
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports a config the channel cannot run with.
func (c Config) Validate() error {
	var err error
	if c.Timeout < 0 {
		err = errors.Join(err, fmt.Errorf("webhook timeout %s must be positive", c.Timeout))
	}
	for _, p := range c.AllowCIDRs {
		if !p.IsValid() {
			err = errors.Join(err, fmt.Errorf("webhook allowed range %s is not a valid CIDR", p))
		}
	}
	return err
}
