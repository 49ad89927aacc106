package pass

import "context"

// Repository loads passes from their event streams and stores the events they record.
//
// Update loads the pass (a new, unregistered one when its stream is empty), calls update, and appends the
// recorded events with the loaded version as the expected one, publishing them in the same transaction. On a
// version conflict it loads again and calls update again, so update must not have side effects.
type Repository interface {
	Update(ctx context.Context, tenantID, passID string, update func(p *Pass) error) error
	// UpdateAll does the same for many passes of one tenant in one transaction, for imports.
	UpdateAll(ctx context.Context, tenantID string, passIDs []string, update func(p *Pass) error) error
}
