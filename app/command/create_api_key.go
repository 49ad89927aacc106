package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/passpush/passpush/domain/tenant"
)

// CreateAPIKey makes a new API key for a tenant.
type CreateAPIKey struct {
	TenantID string
	// Name names the key, to list and revoke it; empty picks "key-" and 8 random hex digits.
	Name  string
	Actor tenant.Actor
}

// CreatedAPIKey is a new key: its stored form, and the key itself, which exists only in this answer.
type CreatedAPIKey struct {
	tenant.APIKey
	Key string
}

// APIKeyStore keeps the tenants' API keys, as hashes.
type APIKeyStore interface {
	// Add stores a key, or fails with tenant.ErrAPIKeyExists if the tenant has a key of that name.
	Add(ctx context.Context, key tenant.APIKey) error
	// Remove deletes the tenant's key of that name, or fails with tenant.ErrAPIKeyNotFound.
	Remove(ctx context.Context, tenantID, name string) error
}

// CreateAPIKeyHandler handles CreateAPIKey.
type CreateAPIKeyHandler struct {
	tenants TenantGetter
	keys    APIKeyStore
	changes TenantChangeLog
	random  io.Reader
	now     func() time.Time
}

// NewCreateAPIKeyHandler returns a handler that stores keys in keys, for the tenants that exists, and records
// each key's creation in changes.
func NewCreateAPIKeyHandler(tenants TenantGetter, keys APIKeyStore, changes TenantChangeLog) CreateAPIKeyHandler {
	if tenants == nil || keys == nil || changes == nil {
		panic("nil tenant getter, API key store or change log")
	}
	return CreateAPIKeyHandler{tenants: tenants, keys: keys, changes: changes, random: rand.Reader, now: time.Now}
}

// Handle makes and stores the key, and records TenantAPIKeyCreated in the same transaction.
func (h CreateAPIKeyHandler) Handle(ctx context.Context, cmd CreateAPIKey) (CreatedAPIKey, error) {
	if err := tenant.ValidateID(cmd.TenantID); err != nil {
		return CreatedAPIKey{}, err
	}
	if cmd.Name == "" {
		b := make([]byte, 4)
		if _, err := io.ReadFull(h.random, b); err != nil {
			return CreatedAPIKey{}, fmt.Errorf("name API key: %w", err)
		}
		cmd.Name = "key-" + hex.EncodeToString(b)
	}
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return CreatedAPIKey{}, fmt.Errorf("create API key of tenant %s: %w", cmd.TenantID, err)
	}
	key, secret, err := tenant.NewAPIKey(cmd.TenantID, cmd.Name, h.random, h.now())
	if err != nil {
		return CreatedAPIKey{}, err
	}
	err = h.changes.Record(ctx, cmd.TenantID, func(ctx context.Context) ([]tenant.Event, error) {
		if err := h.keys.Add(ctx, key); err != nil {
			return nil, err
		}
		return []tenant.Event{tenant.APIKeyCreated{Actor: cmd.Actor.OrUnnamed(), Key: key.Name}}, nil
	})
	if err != nil {
		return CreatedAPIKey{}, fmt.Errorf("create API key %s of tenant %s: %w", cmd.Name, cmd.TenantID, err)
	}
	return CreatedAPIKey{APIKey: key, Key: secret}, nil
}
