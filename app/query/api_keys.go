package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/domain/tenant"
)

// APIKeyReader reads the tenants' API keys.
type APIKeyReader interface {
	// List returns the tenant's keys ordered by name.
	List(ctx context.Context, tenantID string) ([]tenant.APIKey, error)
	// ByHash returns the key with that hash, or tenant.ErrAPIKeyNotFound. It reads the database, not a cache: a
	// key works on every instance as soon as it is created and stops as soon as it is revoked.
	ByHash(ctx context.Context, hash tenant.APIKeyHash) (tenant.APIKey, error)
}

// ListAPIKeysHandler lists a tenant's keys, without any secret.
type ListAPIKeysHandler struct {
	tenants TenantReader
	keys    APIKeyReader
}

// NewListAPIKeysHandler returns a handler that reads from keys, for the tenants that exist.
func NewListAPIKeysHandler(tenants TenantReader, keys APIKeyReader) ListAPIKeysHandler {
	if tenants == nil || keys == nil {
		panic("nil tenant or API key reader")
	}
	return ListAPIKeysHandler{tenants: tenants, keys: keys}
}

// Handle returns the tenant's keys, or tenant.ErrNotFound for an unknown tenant.
func (h ListAPIKeysHandler) Handle(ctx context.Context, tenantID string) ([]tenant.APIKey, error) {
	if _, err := h.tenants.Get(ctx, tenantID); err != nil {
		return nil, fmt.Errorf("API keys of tenant %s: %w", tenantID, err)
	}
	keys, err := h.keys.List(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("API keys of tenant %s: %w", tenantID, err)
	}
	return keys, nil
}

// AuthenticateAPIKeyHandler finds the key a request presents.
type AuthenticateAPIKeyHandler struct {
	keys APIKeyReader
}

// NewAuthenticateAPIKeyHandler returns a handler that looks keys up in keys.
func NewAuthenticateAPIKeyHandler(keys APIKeyReader) AuthenticateAPIKeyHandler {
	if keys == nil {
		panic("nil API key reader")
	}
	return AuthenticateAPIKeyHandler{keys: keys}
}

// Handle returns the stored key the credential is, or tenant.ErrAPIKeyRefused for one that is malformed, unknown
// or revoked. A credential without a key's shape costs no query.
func (h AuthenticateAPIKeyHandler) Handle(ctx context.Context, credential string) (tenant.APIKey, error) {
	if _, ok := tenant.LooksLikeAPIKey(credential); !ok {
		return tenant.APIKey{}, fmt.Errorf("malformed key: %w", tenant.ErrAPIKeyRefused)
	}
	hash := tenant.HashAPIKey(credential)
	key, err := h.keys.ByHash(ctx, hash)
	switch {
	case errors.Is(err, tenant.ErrAPIKeyNotFound):
		return tenant.APIKey{}, fmt.Errorf("unknown or revoked key: %w", tenant.ErrAPIKeyRefused)
	case err != nil:
		return tenant.APIKey{}, fmt.Errorf("authenticate API key: %w", err)
	case !key.Hash.Equal(hash):
		// The lookup was an equality on the hash; this compare in constant time is the one the decision rests on.
		return tenant.APIKey{}, fmt.Errorf("unknown or revoked key: %w", tenant.ErrAPIKeyRefused)
	}
	return key, nil
}
