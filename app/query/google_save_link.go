package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/push"
)

// GoogleSaveLink makes a pass's "Add to Google Wallet" link, when its tenant has Google settings and a class for
// its type.
type GoogleSaveLink struct {
	TenantID string
	PassID   string
}

// GoogleSaveLinks signs save links (adapters/google).
type GoogleSaveLinks interface {
	// SaveLink returns https://pay.google.com/gp/v/save/{JWT} for the pass's object, built from its current data,
	// or an error wrapping push.ErrNotSetUp when its tenant has no Google settings or no class for its type, or
	// pass.ErrNotFound.
	SaveLink(ctx context.Context, tenantID, passID string) (string, error)
}

// GoogleSaveLinkHandler handles GoogleSaveLink.
type GoogleSaveLinkHandler struct {
	links GoogleSaveLinks
}

// NewGoogleSaveLinkHandler returns a handler that signs links with links.
func NewGoogleSaveLinkHandler(links GoogleSaveLinks) GoogleSaveLinkHandler {
	if links == nil {
		panic("nil Google save links")
	}
	return GoogleSaveLinkHandler{links: links}
}

// Handle returns the pass's link, or "" and no error when Google Wallet is not set up for it. An unknown pass is
// pass.ErrNotFound.
func (h GoogleSaveLinkHandler) Handle(ctx context.Context, q GoogleSaveLink) (string, error) {
	link, err := h.links.SaveLink(ctx, q.TenantID, q.PassID)
	if errors.Is(err, push.ErrNotSetUp) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("google save link of pass %s: %w", q.PassID, err)
	}
	return link, nil
}
