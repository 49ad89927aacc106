package command

import (
	"context"

	"github.com/passpush/passpush/domain/tenant"
)

// TenantGetter reads a tenant, for the commands that configure one (its Apple certificates and templates) and
// must refuse an unknown tenant.
type TenantGetter interface {
	// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
	Get(ctx context.Context, id string) (tenant.Tenant, error)
}
