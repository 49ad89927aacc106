package command

import (
	"context"
	"fmt"
	"time"

	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/tenant"
)

// AddAppleCertificate stores a tenant's Pass Type ID certificate, one per Pass Type ID: from a .p12 (P12 and its
// P12Password) or from PEM (CertificatePEM and PrivateKeyPEM), with Apple's WWDR intermediate. An existing
// certificate of the same Pass Type ID is replaced.
type AddAppleCertificate struct {
	TenantID string
	// PassTypeID, when set, must be the certificate's (its subject UID): the admin API's path names it.
	PassTypeID string
	Files      AppleCertificateFiles
	// Actor is who asks, as the tenant's audit event records it.
	Actor tenant.Actor
}

// AppleCertificateFiles are a certificate as the user hands it over. P12Password and PrivateKeyPEM are secrets.
type AppleCertificateFiles struct {
	P12            []byte
	P12Password    string
	CertificatePEM []byte
	PrivateKeyPEM  []byte
	WWDR           []byte // PEM or DER
}

// AppleCertificateStore checks and keeps the tenants' Pass Type ID certificates (adapters/apple), as credentials
// of kind "apple" named by the Pass Type ID.
type AppleCertificateStore interface {
	// Put checks files (the key matches the certificate, a Pass Type ID certificate valid at now, issued by the
	// WWDR) and stores it under its Pass Type ID, unless wantPassTypeID is set and differs. Refusals wrap
	// applepass.ErrInvalidCertificate.
	Put(ctx context.Context, tenantID, wantPassTypeID string, files AppleCertificateFiles, now time.Time) (applepass.CertificateInfo, error)
	// Has reports whether the tenant has a certificate of passTypeID.
	Has(ctx context.Context, tenantID, passTypeID string) (bool, error)
}

// AddAppleCertificateHandler handles AddAppleCertificate.
type AddAppleCertificateHandler struct {
	tenants      TenantGetter
	certificates AppleCertificateStore
	changes      TenantChangeLog
	now          func() time.Time
}

// NewAddAppleCertificateHandler returns a handler that stores into certificates the certificates of tenants, and
// records each in changes.
func NewAddAppleCertificateHandler(tenants TenantGetter, certificates AppleCertificateStore, changes TenantChangeLog) AddAppleCertificateHandler {
	if tenants == nil || certificates == nil || changes == nil {
		panic("nil tenants, Apple certificate store or change log")
	}
	return AddAppleCertificateHandler{tenants: tenants, certificates: certificates, changes: changes, now: time.Now}
}

// Handle checks and stores the certificate and returns what may be shown of it.
func (h AddAppleCertificateHandler) Handle(ctx context.Context, cmd AddAppleCertificate) (applepass.CertificateInfo, error) {
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return applepass.CertificateInfo{}, fmt.Errorf("tenant %s: %w", cmd.TenantID, err)
	}
	f := cmd.Files
	hasP12, hasPEM := len(f.P12) > 0, len(f.CertificatePEM) > 0 || len(f.PrivateKeyPEM) > 0
	switch {
	case hasP12 && hasPEM:
		return applepass.CertificateInfo{}, fmt.Errorf("%w: give either a .p12 or a certificate and its private key, not both", applepass.ErrInvalidCertificate)
	case !hasP12 && !hasPEM:
		return applepass.CertificateInfo{}, fmt.Errorf("%w: give a .p12, or a certificate and its private key", applepass.ErrInvalidCertificate)
	case hasPEM && (len(f.CertificatePEM) == 0 || len(f.PrivateKeyPEM) == 0):
		return applepass.CertificateInfo{}, fmt.Errorf("%w: give both the certificate and its private key", applepass.ErrInvalidCertificate)
	case len(f.WWDR) == 0:
		return applepass.CertificateInfo{}, fmt.Errorf("%w: the WWDR intermediate certificate is missing", applepass.ErrInvalidCertificate)
	}
	var info applepass.CertificateInfo
	err := h.changes.Record(ctx, cmd.TenantID, func(ctx context.Context) ([]tenant.Event, error) {
		var err error
		if info, err = h.certificates.Put(ctx, cmd.TenantID, cmd.PassTypeID, f, h.now()); err != nil {
			return nil, err
		}
		// The certificate's private key is a secret: the event names the certificate, never the key.
		return []tenant.Event{tenant.Changed{Actor: cmd.Actor.OrUnnamed(), Changes: []string{"apple certificate " + info.PassTypeID + " set"}}}, nil
	})
	if err != nil {
		return applepass.CertificateInfo{}, err
	}
	return info, nil
}
