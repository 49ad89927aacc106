package command

import (
	"context"

	"github.com/passpush/passpush/domain/tenant"
)

// TenantChangeLog makes a tenant's changes auditable: Record runs change and appends the events it returns to the
// tenant's stream, tenant-{id}, in the same transaction, so a change is never stored without its event. change
// may run more than once (after a concurrent change of the same tenant); it reads and writes through the ctx it
// is given, which carries the transaction.
type TenantChangeLog interface {
	Record(ctx context.Context, tenantID string, change func(ctx context.Context) ([]tenant.Event, error)) error
}
