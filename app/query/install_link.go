package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/domain/installlink"
)

// CheckInstallLink checks an install link's signature and expiry; a link that passes may download its pass.
type CheckInstallLink struct {
	TenantID string
	PassID   string
	Expires  int64
	Sig      string
}

// ErrNoLinkKey is returned by ExistingLinkKeys for a tenant that never made a link.
var ErrNoLinkKey = errors.New("the tenant has no link key")

// ExistingLinkKeys reads the tenants' link keys without making one (adapters/apple).
type ExistingLinkKeys interface {
	// Existing returns the tenant's link key, or an error wrapping ErrNoLinkKey.
	Existing(ctx context.Context, tenantID string) ([]byte, error)
}

// CheckInstallLinkHandler handles CheckInstallLink.
type CheckInstallLinkHandler struct {
	keys ExistingLinkKeys
	now  func() time.Time
}

// NewCheckInstallLinkHandler returns a handler that checks links with keys.
func NewCheckInstallLinkHandler(keys ExistingLinkKeys) CheckInstallLinkHandler {
	if keys == nil {
		panic("nil link keys")
	}
	return CheckInstallLinkHandler{keys: keys, now: time.Now}
}

// Handle returns installlink.ErrForbidden for a link that is not signed with the tenant's key or has expired.
func (h CheckInstallLinkHandler) Handle(ctx context.Context, q CheckInstallLink) error {
	key, err := h.keys.Existing(ctx, q.TenantID)
	if errors.Is(err, ErrNoLinkKey) {
		return installlink.ErrForbidden
	}
	if err != nil {
		return fmt.Errorf("link key of tenant %s: %w", q.TenantID, err)
	}
	return installlink.Verify(key, q.TenantID, q.PassID, q.Expires, q.Sig, h.now())
}
