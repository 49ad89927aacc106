package command

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/installlink"
)

// MakeInstallLink makes a link anyone may open, until it expires, to download a pass into Apple Wallet.
type MakeInstallLink struct {
	TenantID string
	PassID   string
	TTL      time.Duration // installlink.DefaultTTL when zero
}

// InstallLink is a link's path and query (the port puts its public base URL before it) and when it expires.
type InstallLink struct {
	ApplePath string
	ExpiresAt time.Time
}

// LinkKeys hands out each tenant's link key (adapters/apple).
type LinkKeys interface {
	// Key returns the tenant's link key, making it (installlink.KeySize random bytes) and storing it on first use.
	Key(ctx context.Context, tenantID string) ([]byte, error)
}

// PassReader reads a pass from the passes read model.
type PassReader interface {
	// Get returns the pass or pass.ErrNotFound.
	Get(ctx context.Context, tenantID, passID string, minStreamVersion int) (query.Pass, error)
}

// MakeInstallLinkHandler handles MakeInstallLink.
type MakeInstallLinkHandler struct {
	passes PassReader
	keys   LinkKeys
	now    func() time.Time
}

// NewMakeInstallLinkHandler returns a handler that signs links to the passes of the read model with keys.
func NewMakeInstallLinkHandler(passes PassReader, keys LinkKeys) MakeInstallLinkHandler {
	if passes == nil || keys == nil {
		panic("nil passes or link keys")
	}
	return MakeInstallLinkHandler{passes: passes, keys: keys, now: time.Now}
}

// Handle returns the link, or pass.ErrNotFound for a pass the tenant does not have.
func (h MakeInstallLinkHandler) Handle(ctx context.Context, cmd MakeInstallLink) (InstallLink, error) {
	if cmd.TTL == 0 {
		cmd.TTL = installlink.DefaultTTL
	}
	expires, err := installlink.Expiry(h.now(), cmd.TTL)
	if err != nil {
		return InstallLink{}, fmt.Errorf("%w: ttl %s must be positive and at most %s", err, cmd.TTL, installlink.MaxTTL)
	}
	if _, err := h.passes.Get(ctx, cmd.TenantID, cmd.PassID, 0); err != nil {
		return InstallLink{}, fmt.Errorf("pass %s: %w", cmd.PassID, err)
	}
	key, err := h.keys.Key(ctx, cmd.TenantID)
	if err != nil {
		return InstallLink{}, fmt.Errorf("link key of tenant %s: %w", cmd.TenantID, err)
	}
	q := url.Values{}
	q.Set("expires", strconv.FormatInt(expires, 10))
	q.Set("sig", installlink.Sign(key, cmd.TenantID, cmd.PassID, expires))
	return InstallLink{
		ApplePath: ApplePassLinkPath(cmd.TenantID, cmd.PassID) + "?" + q.Encode(),
		ExpiresAt: time.Unix(expires, 0).UTC(),
	}, nil
}

// ApplePassLinkPath is the path of a pass's Apple install link, without its query.
func ApplePassLinkPath(tenantID, passID string) string {
	return "/api/" + url.PathEscape(tenantID) + "/apple/passes/" + url.PathEscape(passID) + ".pkpass"
}
