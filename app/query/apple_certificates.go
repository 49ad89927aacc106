package query

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/applepass"
)

// AppleCertificates lists a tenant's Pass Type ID certificates: what may be shown of them, never a key.
type AppleCertificates struct {
	TenantID string
}

// AppleCertificateLister is the part of the certificate store AppleCertificates needs (adapters/apple).
type AppleCertificateLister interface {
	// List returns the tenant's certificates ordered by Pass Type ID, expired ones included, each with a warning
	// when it expires within 30 days.
	List(ctx context.Context, tenantID string) ([]applepass.CertificateInfo, error)
}

// AppleCertificatesHandler handles AppleCertificates.
type AppleCertificatesHandler struct {
	tenants      TenantReader
	certificates AppleCertificateLister
}

// NewAppleCertificatesHandler returns a handler that lists the certificates of tenants.
func NewAppleCertificatesHandler(tenants TenantReader, certificates AppleCertificateLister) AppleCertificatesHandler {
	if tenants == nil || certificates == nil {
		panic("nil tenants or Apple certificate lister")
	}
	return AppleCertificatesHandler{tenants: tenants, certificates: certificates}
}

// Handle returns the certificates, or tenant.ErrNotFound for an unknown tenant.
func (h AppleCertificatesHandler) Handle(ctx context.Context, q AppleCertificates) ([]applepass.CertificateInfo, error) {
	if _, err := h.tenants.Get(ctx, q.TenantID); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", q.TenantID, err)
	}
	cs, err := h.certificates.List(ctx, q.TenantID)
	if err != nil {
		return nil, fmt.Errorf("list the Apple certificates of tenant %s: %w", q.TenantID, err)
	}
	return cs, nil
}
