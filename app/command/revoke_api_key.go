package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/tenant"
)

// RevokeAPIKey removes a tenant's API key, by name.
type RevokeAPIKey struct {
	TenantID string
	Name     string
	Actor    tenant.Actor
}

// RevokeAPIKeyHandler handles RevokeAPIKey.
type RevokeAPIKeyHandler struct {
	keys    APIKeyStore
	changes TenantChangeLog
}

// NewRevokeAPIKeyHandler returns a handler that removes keys from keys and records each revocation in changes.
func NewRevokeAPIKeyHandler(keys APIKeyStore, changes TenantChangeLog) RevokeAPIKeyHandler {
	if keys == nil || changes == nil {
		panic("nil API key store or change log")
	}
	return RevokeAPIKeyHandler{keys: keys, changes: changes}
}

// Handle removes the key and records TenantAPIKeyRevoked in the same transaction. It fails with
// tenant.ErrAPIKeyNotFound if the tenant has no key of that name.
func (h RevokeAPIKeyHandler) Handle(ctx context.Context, cmd RevokeAPIKey) error {
	if err := tenant.ValidateID(cmd.TenantID); err != nil {
		return err
	}
	if err := tenant.ValidateAPIKeyName(cmd.Name); err != nil {
		return fmt.Errorf("revoke API key of tenant %s: %w", cmd.TenantID, tenant.ErrAPIKeyNotFound)
	}
	err := h.changes.Record(ctx, cmd.TenantID, func(ctx context.Context) ([]tenant.Event, error) {
		if err := h.keys.Remove(ctx, cmd.TenantID, cmd.Name); err != nil {
			return nil, err
		}
		return []tenant.Event{tenant.APIKeyRevoked{Actor: cmd.Actor.OrUnnamed(), Key: cmd.Name}}, nil
	})
	if err != nil {
		return fmt.Errorf("revoke API key %s of tenant %s: %w", cmd.Name, cmd.TenantID, err)
	}
	return nil
}
