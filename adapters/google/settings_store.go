package google

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/googlepass"
)

// errNotSetUp is wrapped by the errors of a tenant or pass type without Google settings or a class: the channel
// leaves the pass out (push.ErrNotSetUp), and the admin API answers 404.
var errNotSetUp = fmt.Errorf("google wallet %w", push.ErrNotSetUp)

// Account is a tenant's Google settings with their service account, read and checked.
type Account struct {
	Settings       Settings
	ServiceAccount ServiceAccount
}

// Info is what may be shown of the account.
func (a *Account) Info() googlepass.SettingsInfo {
	return googlepass.SettingsInfo{IssuerID: a.Settings.IssuerID, ServiceAccountEmail: a.ServiceAccount.ClientEmail,
		Rate: a.Settings.Rate}
}

// SettingsStore keeps the tenants' Google settings as credentials of kind Kind named DefaultName, and hands them
// out read and checked. Each read sees the latest settings (a save link made right after a put uses them); the
// key is parsed once per revision of the credential.
type SettingsStore struct {
	store *credentials.Store

	mu     sync.Mutex
	parsed map[string]*Account // by tenant, of parsedRevision[tenant]
	rev    map[string]int64
}

// maxParsedAccounts bounds the parsed settings kept in memory.
const maxParsedAccounts = 1024

// NewSettingsStore returns the settings kept in store.
func NewSettingsStore(store *credentials.Store) (*SettingsStore, error) {
	if store == nil {
		return nil, errors.New("new google settings: nil credential store")
	}
	return &SettingsStore{store: store, parsed: map[string]*Account{}, rev: map[string]int64{}}, nil
}

// Put checks the settings (see Settings.Validate) and stores them in place of the tenant's. Refusals wrap
// ErrInvalidSettings and never quote the key file.
func (s *SettingsStore) Put(ctx context.Context, tenantID, issuerID string, serviceAccount []byte, rate float64) (googlepass.SettingsInfo, error) {
	settings := Settings{IssuerID: issuerID, ServiceAccount: serviceAccount, Rate: rate}
	account, err := settings.Validate()
	if err != nil {
		return googlepass.SettingsInfo{}, err
	}
	data, err := EncodeSettings(settings)
	if err != nil {
		return googlepass.SettingsInfo{}, err
	}
	if err := s.store.Put(ctx, tenantID, Kind, DefaultName, data); err != nil {
		return googlepass.SettingsInfo{}, err
	}
	a := Account{Settings: settings, ServiceAccount: account}
	return a.Info(), nil
}

// Account returns the tenant's settings. Without settings the error wraps push.ErrNotSetUp. The Account is shared:
// don't change it.
func (s *SettingsStore) Account(ctx context.Context, tenantID string) (*Account, error) {
	c, err := s.store.Get(ctx, tenantID, Kind, DefaultName)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, fmt.Errorf("%w: tenant %s has no Google settings", errNotSetUp, tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("google settings of tenant %s: %w", tenantID, err)
	}
	s.mu.Lock()
	a, ok := s.parsed[tenantID]
	ok = ok && s.rev[tenantID] == c.Revision
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	settings, account, err := DecodeSettings(c.Data)
	if err != nil {
		return nil, fmt.Errorf("stored google settings of tenant %s: %w", tenantID, err)
	}
	a = &Account{Settings: settings, ServiceAccount: account}
	s.mu.Lock()
	if len(s.parsed) >= maxParsedAccounts {
		clear(s.parsed)
		clear(s.rev)
	}
	s.parsed[tenantID], s.rev[tenantID] = a, c.Revision
	s.mu.Unlock()
	return a, nil
}

// Info returns what may be shown of the tenant's settings; without settings the error wraps push.ErrNotSetUp.
func (s *SettingsStore) Info(ctx context.Context, tenantID string) (googlepass.SettingsInfo, error) {
	a, err := s.Account(ctx, tenantID)
	if err != nil {
		return googlepass.SettingsInfo{}, err
	}
	return a.Info(), nil
}
