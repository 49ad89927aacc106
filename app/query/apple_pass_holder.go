package query

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/domain/pass"
)

// ErrNotPassHolder answers a PassKit web service call whose authenticationToken is wrong or missing, whose pass
// the tenant does not have, or whose passTypeIdentifier is not the pass's: one error for all, so a caller cannot
// tell an unknown serial from a wrong token.
var ErrNotPassHolder = errors.New("wrong authentication token or unknown pass")

// ApplePassHolder asks whether a caller holds a pass: it shows the pass's authenticationToken and names the Pass
// Type ID the pass is issued under.
type ApplePassHolder struct {
	TenantID   string
	PassID     string
	PassTypeID string
	Token      string
}

// HeldApplePass is what the holder of a pass may learn of it before it is built.
type HeldApplePass struct {
	PassType string
	// LastModified moves at least one second with every change of the pass's data.
	LastModified time.Time
}

// AppleTokenChecker checks a pass's authenticationToken (adapters/apple).
type AppleTokenChecker interface {
	// CheckToken compares token with the pass's authenticationToken in constant time. ok is false for a wrong
	// token, an unknown pass, and a pass that was never built (it has no token yet).
	CheckToken(ctx context.Context, tenantID, passID, token string) (held HeldApplePass, ok bool, err error)
}

// ApplePassHolderHandler handles ApplePassHolder: the authentication of the PassKit web service.
type ApplePassHolderHandler struct {
	tokens    AppleTokenChecker
	templates AppleTemplates
}

// NewApplePassHolderHandler returns a handler that checks tokens and reads the Pass Type ID from the pass's
// template.
func NewApplePassHolderHandler(tokens AppleTokenChecker, templates AppleTemplates) ApplePassHolderHandler {
	if tokens == nil || templates == nil {
		panic("nil token checker or Apple templates")
	}
	return ApplePassHolderHandler{tokens: tokens, templates: templates}
}

// wellFormed reports whether the holder's call could name a pass at all.
func (q ApplePassHolder) wellFormed() bool {
	return q.TenantID != "" && q.Token != "" && pass.ValidateID(q.PassID) == nil && pass.ValidatePassTypeID(q.PassTypeID) == nil
}

// holds compares the token shown with the pass's in constant time. A pass that has no token yet (it was never
// built) is held by nobody.
func (q ApplePassHolder) holds(src ApplePassSource) bool {
	stored := src.Token
	if stored == "" {
		stored = unknownPassToken // compare anyway, so an unbuilt pass takes as long as a wrong token
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(q.Token)) == 1 && src.Token != ""
}

// unknownPassToken is what a token is compared with when the pass has none; no token equals it, as it is never
// stored (tokens are 64 hex digits of random bytes).
const unknownPassToken = "0000000000000000000000000000000000000000000000000000000000000000"

// Handle returns the pass, or ErrNotPassHolder.
func (h ApplePassHolderHandler) Handle(ctx context.Context, q ApplePassHolder) (HeldApplePass, error) {
	if !q.wellFormed() {
		return HeldApplePass{}, ErrNotPassHolder
	}
	held, ok, err := h.tokens.CheckToken(ctx, q.TenantID, q.PassID, q.Token)
	if err != nil {
		return HeldApplePass{}, fmt.Errorf("check the token of pass %s: %w", q.PassID, err)
	}
	if !ok {
		return HeldApplePass{}, ErrNotPassHolder
	}
	tpl, err := h.templates.Latest(ctx, q.TenantID, held.PassType)
	if errors.Is(err, ErrAppleNotConfigured) {
		return HeldApplePass{}, ErrNotPassHolder
	}
	if err != nil {
		return HeldApplePass{}, fmt.Errorf("template of pass %s: %w", q.PassID, err)
	}
	if tpl.Template.PassTypeIdentifier() != q.PassTypeID {
		return HeldApplePass{}, ErrNotPassHolder
	}
	return held, nil
}
