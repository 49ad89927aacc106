package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passpush/passpush/domain/applepass"
)

// ErrAppleNotConfigured is returned for a pass whose type has no Apple template, or whose template's Pass Type ID
// has no certificate.
var ErrAppleNotConfigured = errors.New("Apple Wallet is not configured for this pass")

// ApplePass builds a pass's signed .pkpass from the passes read model and the latest template of its type.
type ApplePass struct {
	TenantID string
	PassID   string
}

// ApplePassFile is a signed pass.
type ApplePassFile struct {
	PKPass []byte
	// LastModified is when the pass or its template last changed, whichever is later (Last-Modified).
	LastModified time.Time
	// Revision is the pass's version in the passes read model.
	Revision int
	// PassTypeID is the pass's Pass Type ID, from its template.
	PassTypeID string
}

// AppleTemplate is one stored version of a tenant's template of a pass type.
type AppleTemplate struct {
	Version   int
	CreatedAt time.Time
	Template  applepass.Template
}

// AppleTemplates reads the tenants' templates (adapters/apple).
type AppleTemplates interface {
	// Latest returns the latest version of the tenant's template of passType, or an error wrapping
	// ErrAppleNotConfigured when there is none.
	Latest(ctx context.Context, tenantID, passType string) (AppleTemplate, error)
}

// AppleSigner is a tenant's Pass Type ID certificate, able to sign a pass (adapters/apple).
type AppleSigner interface {
	PassTypeID() string
	TeamID() string
	// Fingerprint identifies the certificate, so that a pass signed with a replaced one is not served again.
	Fingerprint() string
	// Sign packs and signs the pass: passJSON (from applepass.Render) with the template's other files.
	Sign(t applepass.Template, passJSON []byte) ([]byte, error)
}

// AppleSigners finds the certificate of a Pass Type ID (adapters/apple).
type AppleSigners interface {
	// Signer returns the tenant's certificate of passTypeID, or an error wrapping ErrAppleNotConfigured.
	Signer(ctx context.Context, tenantID, passTypeID string) (AppleSigner, error)
}

// AuthenticationTokens hands out each pass's authenticationToken: a random secret of at least 32 characters,
// made once per pass and never changed (the PassKit web service checks it).
type AuthenticationTokens interface {
	Token(ctx context.Context, tenantID, passID string) (string, error)
}

// ApplePassHandler handles ApplePass. Signed passes are cached per (tenant, pass, revision, template version,
// certificate), so devices fetching the same version don't sign it again; the read model is read on every call,
// so a pass is never served with data older than it.
type ApplePassHandler struct {
	passes        PassGetter
	templates     AppleTemplates
	signers       AppleSigners
	tokens        AuthenticationTokens
	webServiceURL func(tenantID string) string
	cache         *applePassCache
}

// ApplePassCacheSize is how many signed passes the handler keeps in memory.
const ApplePassCacheSize = 4096

// NewApplePassHandler returns a handler that builds passes. publicURL is PASSPUSH_PUBLIC_URL: a pass's
// webServiceURL is publicURL + /api/{tenantId}/apple.
func NewApplePassHandler(passes PassGetter, templates AppleTemplates, signers AppleSigners, tokens AuthenticationTokens, publicURL string) ApplePassHandler {
	if passes == nil || templates == nil || signers == nil || tokens == nil {
		panic("nil passes, Apple templates, Apple signers or authentication tokens")
	}
	base := strings.TrimRight(publicURL, "/")
	return ApplePassHandler{
		passes: passes, templates: templates, signers: signers, tokens: tokens,
		webServiceURL: func(tenantID string) string { return base + "/api/" + tenantID + "/apple" },
		cache:         newApplePassCache(ApplePassCacheSize),
	}
}

// Handle returns the pass, signed. An unknown pass is pass.ErrNotFound.
func (h ApplePassHandler) Handle(ctx context.Context, q ApplePass) (ApplePassFile, error) {
	p, err := h.passes.Get(ctx, q.TenantID, q.PassID, 0)
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("get pass %s: %w", q.PassID, err)
	}
	tpl, err := h.templates.Latest(ctx, q.TenantID, p.PassType)
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("pass %s: %w", q.PassID, err)
	}
	signer, err := h.signers.Signer(ctx, q.TenantID, tpl.Template.PassTypeIdentifier())
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("pass %s: %w", q.PassID, err)
	}
	lastModified := p.UpdatedAt
	if tpl.CreatedAt.After(lastModified) {
		lastModified = tpl.CreatedAt
	}
	key := applePassKey{tenantID: q.TenantID, passID: q.PassID, revision: p.Version, passType: p.PassType,
		templateVersion: tpl.Version, certificate: signer.Fingerprint()}
	if b, ok := h.cache.get(key); ok {
		return ApplePassFile{PKPass: b, LastModified: lastModified, Revision: p.Version, PassTypeID: signer.PassTypeID()}, nil
	}

	token, err := h.tokens.Token(ctx, q.TenantID, q.PassID)
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("authentication token of pass %s: %w", q.PassID, err)
	}
	data := make(map[string]string, len(p.Data)+3)
	for k, v := range p.Data {
		data[k] = v
	}
	data["passId"], data["email"], data["customId"] = p.PassID, p.Email, p.CustomID
	// The latest update's message goes in the message field, whose changeMessage Wallet shows on the lock screen
	// when it changes. A device that fetches the pass again later sees the same value and shows nothing.
	passJSON, err := applepass.Render(tpl.Template, applepass.PassData{
		SerialNumber:        p.PassID,
		PassTypeIdentifier:  signer.PassTypeID(),
		TeamIdentifier:      signer.TeamID(),
		WebServiceURL:       h.webServiceURL(q.TenantID),
		AuthenticationToken: token,
		Data:                data,
		Message:             p.Message,
	})
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("render pass %s: %w", q.PassID, err)
	}
	b, err := signer.Sign(tpl.Template, passJSON)
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("sign pass %s: %w", q.PassID, err)
	}
	h.cache.put(key, b)
	return ApplePassFile{PKPass: b, LastModified: lastModified, Revision: p.Version, PassTypeID: signer.PassTypeID()}, nil
}
