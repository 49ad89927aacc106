package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/pass"
)

// ErrAppleNotConfigured is returned for a pass whose type has no Apple template, or whose template's Pass Type ID
// has no certificate.
var ErrAppleNotConfigured = errors.New("Apple Wallet is not configured for this pass")

// ApplePass builds a pass's signed .pkpass from the passes read model and the latest template of its type.
type ApplePass struct {
	TenantID string
	PassID   string
	// Holder, when set, serves the pass only to its holder (the PassKit web service): Holder.Token must be the
	// pass's authenticationToken and Holder.PassTypeID its Pass Type ID, or the answer is ErrNotPassHolder. The
	// token is checked in the same read as the pass.
	Holder *ApplePassHolder
	// IfModifiedSince, when not zero, is the caller's copy's Last-Modified: a pass not modified since is not built
	// (ApplePassFile.NotModified), as Wallet asks again for a pass it has.
	IfModifiedSince time.Time
}

// ApplePassFile is a signed pass.
type ApplePassFile struct {
	PKPass []byte
	// LastModified is when the pass or its template last changed, whichever is later, in whole seconds rounded
	// up (Last-Modified): the read model's moves at least a second with every change of the pass's data.
	LastModified time.Time
	// Revision is the pass's version in the passes read model.
	Revision int
	// PassTypeID is the pass's Pass Type ID, from its template.
	PassTypeID string
	// NotModified: the pass did not change since ApplePass.IfModifiedSince, and PKPass is empty.
	NotModified bool
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
	// Version returns one version of the tenant's template of passType. A version never changes once stored, so
	// it is read from the database once.
	Version(ctx context.Context, tenantID, passType string, version int) (AppleTemplate, error)
}

// ApplePassSource is what a pass is built from, read in one round trip (ApplePassSources).
type ApplePassSource struct {
	Pass Pass
	// LastModified is the read model's last_modified, which moves at least a second with every data change.
	LastModified time.Time
	// Token is the pass's authenticationToken; empty before its first build made one.
	Token string
	// TemplateVersion is the version of the latest template of the pass's type; 0 when there is none.
	TemplateVersion int
}

// ApplePassSources reads a pass's ApplePassSource (adapters/apple): a device's fetch reads the database once,
// where the pass, its token and its template took a query each.
type ApplePassSources interface {
	// ApplePassSource returns pass.ErrNotFound for a pass the tenant does not have.
	ApplePassSource(ctx context.Context, tenantID, passID string) (ApplePassSource, error)
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
	sources       ApplePassSources
	templates     AppleTemplates
	signers       AppleSigners
	tokens        AuthenticationTokens
	webServiceURL func(tenantID string) string
	cache         *applePassCache
}

// The signed passes the handler keeps in memory: at most ApplePassCacheSize passes, and at most
// ApplePassCacheBytes of them.
const (
	ApplePassCacheSize  = 4096
	ApplePassCacheBytes = 64 << 20
)

// NewApplePassHandler returns a handler that builds passes. publicURL is PASSPUSH_PUBLIC_URL: a pass's
// webServiceURL is publicURL + /api/{tenantId}/apple.
func NewApplePassHandler(sources ApplePassSources, templates AppleTemplates, signers AppleSigners, tokens AuthenticationTokens, publicURL string) ApplePassHandler {
	if sources == nil || templates == nil || signers == nil || tokens == nil {
		panic("nil pass sources, Apple templates, Apple signers or authentication tokens")
	}
	base := strings.TrimRight(publicURL, "/")
	return ApplePassHandler{
		sources: sources, templates: templates, signers: signers, tokens: tokens,
		webServiceURL: func(tenantID string) string { return base + "/api/" + tenantID + "/apple" },
		cache:         newApplePassCache(ApplePassCacheSize, ApplePassCacheBytes),
	}
}

// Handle returns the pass, signed. An unknown pass is pass.ErrNotFound, or ErrNotPassHolder with q.Holder.
func (h ApplePassHandler) Handle(ctx context.Context, q ApplePass) (ApplePassFile, error) {
	if q.Holder != nil && (q.Holder.TenantID != q.TenantID || q.Holder.PassID != q.PassID || !q.Holder.wellFormed()) {
		return ApplePassFile{}, ErrNotPassHolder
	}
	src, err := h.sources.ApplePassSource(ctx, q.TenantID, q.PassID)
	if q.Holder != nil && (errors.Is(err, pass.ErrNotFound) || (err == nil && !q.Holder.holds(src))) {
		return ApplePassFile{}, ErrNotPassHolder
	}
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("get pass %s: %w", q.PassID, err)
	}
	p := src.Pass
	if src.TemplateVersion == 0 {
		err = fmt.Errorf("%w: tenant %s has no Apple template for pass type %q", ErrAppleNotConfigured, q.TenantID, p.PassType)
	}
	var tpl AppleTemplate
	if err == nil {
		tpl, err = h.templates.Version(ctx, q.TenantID, p.PassType, src.TemplateVersion)
	}
	var signer AppleSigner
	if err == nil {
		signer, err = h.signers.Signer(ctx, q.TenantID, tpl.Template.PassTypeIdentifier())
	}
	if q.Holder != nil && (errors.Is(err, ErrAppleNotConfigured) || (err == nil && signer.PassTypeID() != q.Holder.PassTypeID)) {
		return ApplePassFile{}, ErrNotPassHolder
	}
	if err != nil {
		return ApplePassFile{}, fmt.Errorf("pass %s: %w", q.PassID, err)
	}
	file := ApplePassFile{LastModified: lastModified(src.LastModified, p.UpdatedAt, tpl.CreatedAt), Revision: p.Version,
		PassTypeID: signer.PassTypeID()}
	if !q.IfModifiedSince.IsZero() && !file.LastModified.After(q.IfModifiedSince) {
		file.NotModified = true
		return file, nil
	}
	key := applePassKey{tenantID: q.TenantID, passID: q.PassID, revision: p.Version, passType: p.PassType,
		templateVersion: tpl.Version, certificate: signer.Fingerprint()}
	if file.PKPass, err = h.cache.build(ctx, key, func() ([]byte, error) { return h.build(ctx, q, src, tpl, signer) }); err != nil {
		return ApplePassFile{}, err
	}
	return file, nil
}

// SignAhead builds the pass's current version into the cache, as the Apple channel does before it pushes the
// pass: the devices the push wakes fetch it right after, and find it signed. A fetch still reads the passes read
// model first, so it never gets a version older than the row.
func (h ApplePassHandler) SignAhead(ctx context.Context, tenantID, passID string) error {
	_, err := h.Handle(ctx, ApplePass{TenantID: tenantID, PassID: passID})
	return err
}

// build renders and signs the pass: the cache calls it once per key, however many ask at once.
func (h ApplePassHandler) build(ctx context.Context, q ApplePass, src ApplePassSource, tpl AppleTemplate, signer AppleSigner) ([]byte, error) {
	p, token := src.Pass, src.Token
	if token == "" {
		var err error
		if token, err = h.tokens.Token(ctx, q.TenantID, q.PassID); err != nil {
			return nil, fmt.Errorf("authentication token of pass %s: %w", q.PassID, err)
		}
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
		return nil, fmt.Errorf("render pass %s: %w", q.PassID, err)
	}
	b, err := signer.Sign(tpl.Template, passJSON)
	if err != nil {
		return nil, fmt.Errorf("sign pass %s: %w", q.PassID, err)
	}
	return b, nil
}

// lastModified is the latest of the times, in whole seconds rounded up, as Last-Modified and If-Modified-Since
// have them: a change within a second of the last one still moves it.
func lastModified(times ...time.Time) time.Time {
	var latest time.Time
	for _, t := range times {
		if s := t.Truncate(time.Second); s.Before(t) {
			t = s.Add(time.Second)
		}
		if t.After(latest) {
			latest = t
		}
	}
	return latest.UTC()
}
