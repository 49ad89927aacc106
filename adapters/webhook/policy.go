package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

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
