// Package linkkeys keeps each tenant's install-link key: installlink.KeySize random bytes, made on first use and
// never changed, stored as the credential of kind "link" named "default". It is the one place that reads and
// writes that credential.
package linkkeys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/installlink"
)

// The credential a tenant's link key is stored as.
const (
	Kind = "link"
	Name = "default"
)

// Keys are the tenants' link keys. A key never changes once made, so each is kept in memory after its first read.
type Keys struct {
	store *credentials.Store

	mu    sync.Mutex
	known map[string][]byte
}

var (
	_ command.LinkKeys       = (*Keys)(nil)
	_ query.ExistingLinkKeys = (*Keys)(nil)
)

// New returns the link keys stored in store.
func New(store *credentials.Store) (*Keys, error) {
	if store == nil {
		return nil, errors.New("new link keys: nil credential store")
	}
	return &Keys{store: store, known: map[string][]byte{}}, nil
}

// stored is the credential's JSON.
type stored struct {
	Key string `json:"key"` // base64; a secret
}

// Existing implements query.ExistingLinkKeys.
func (k *Keys) Existing(ctx context.Context, tenantID string) ([]byte, error) {
	k.mu.Lock()
	key, ok := k.known[tenantID]
	k.mu.Unlock()
	if ok {
		return key, nil
	}
	c, err := k.store.Get(ctx, tenantID, Kind, Name)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, fmt.Errorf("tenant %s: %w", tenantID, query.ErrNoLinkKey)
	}
	if err != nil {
		return nil, err
	}
	if key, err = decode(c.Data); err != nil {
		return nil, fmt.Errorf("link key of tenant %s: %w", tenantID, err)
	}
	k.mu.Lock()
	k.known[tenantID] = key
	k.mu.Unlock()
	return key, nil
}

// Key implements command.LinkKeys. Two instances making a tenant's first link at once agree on one key: the key
// is inserted only if there is none, and then read back.
func (k *Keys) Key(ctx context.Context, tenantID string) ([]byte, error) {
	key, err := k.Existing(ctx, tenantID)
	if !errors.Is(err, query.ErrNoLinkKey) {
		return key, err
	}
	fresh := make([]byte, installlink.KeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make a link key: %w", err)
	}
	data, err := json.Marshal(stored{Key: base64.StdEncoding.EncodeToString(fresh)})
	if err != nil {
		return nil, err
	}
	// Not Put: it would replace a key another instance made a moment before, and break the links made with it.
	if _, err := k.store.Create(ctx, tenantID, Kind, Name, data); err != nil {
		return nil, fmt.Errorf("store the link key of tenant %s: %w", tenantID, err)
	}
	return k.Existing(ctx, tenantID)
}

func decode(data []byte) ([]byte, error) {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, errors.New("the stored link key is not its JSON")
	}
	key, err := base64.StdEncoding.DecodeString(s.Key)
	if err != nil || len(key) != installlink.KeySize {
		return nil, fmt.Errorf("the stored link key is not %d bytes of base64", installlink.KeySize)
	}
	return key, nil
}
