package query

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/tenant"
)

// TenantReader reads tenants.
type TenantReader interface {
	// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
	Get(ctx context.Context, id string) (tenant.Tenant, error)
	List(ctx context.Context) ([]tenant.Tenant, error)
}

// ActiveTenantHandler answers whether a tenant may use passpush: it returns tenant.ErrNotFound for an unknown or
// disabled one.
type ActiveTenantHandler struct {
	tenants TenantReader
}

// NewActiveTenantHandler returns a handler that reads from tenants.
func NewActiveTenantHandler(tenants TenantReader) ActiveTenantHandler {
	if tenants == nil {
		panic("nil tenant reader")
	}
	return ActiveTenantHandler{tenants: tenants}
}

// Handle returns the active tenant.
func (h ActiveTenantHandler) Handle(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := h.tenants.Get(ctx, id)
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	if t.Disabled {
		return tenant.Tenant{}, fmt.Errorf("tenant %s is disabled: %w", id, tenant.ErrNotFound)
	}
	return t, nil
}

// TenantByIDHandler returns a tenant, disabled or not, for the management API.
type TenantByIDHandler struct {
	tenants TenantReader
}

// NewTenantByIDHandler returns a handler that reads from tenants.
func NewTenantByIDHandler(tenants TenantReader) TenantByIDHandler {
	if tenants == nil {
		panic("nil tenant reader")
	}
	return TenantByIDHandler{tenants: tenants}
}

// Handle returns the tenant or tenant.ErrNotFound.
func (h TenantByIDHandler) Handle(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := h.tenants.Get(ctx, id)
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return t, nil
}

// ListTenantsHandler lists every tenant.
type ListTenantsHandler struct {
	tenants TenantReader
}

// NewListTenantsHandler returns a handler that reads from tenants.
func NewListTenantsHandler(tenants TenantReader) ListTenantsHandler {
	if tenants == nil {
		panic("nil tenant reader")
	}
	return ListTenantsHandler{tenants: tenants}
}

// Handle returns the tenants ordered by id.
func (h ListTenantsHandler) Handle(ctx context.Context) ([]tenant.Tenant, error) {
	ts, err := h.tenants.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}
