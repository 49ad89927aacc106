package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/tenant"
)

// PutGoogleSettings sets a tenant's Google Wallet settings, in place of those it had: its issuer id, its service
// account's key file as Google hands it out, and the requests a second its calls to the Wallet API are held to
// (0 takes the default, 20).
type PutGoogleSettings struct {
	TenantID string
	IssuerID string
	// ServiceAccount is the key file: a secret, which String leaves out.
	ServiceAccount []byte
	Rate           float64
	// Actor is who asks, as the tenant's audit event records it.
	Actor tenant.Actor
}

// String keeps the key file out of logs and errors.
func (c PutGoogleSettings) String() string {
	return fmt.Sprintf("PutGoogleSettings{TenantID:%s IssuerID:%s Rate:%g}", c.TenantID, c.IssuerID, c.Rate)
}

// GoString keeps the key file out of %#v.
func (c PutGoogleSettings) GoString() string { return c.String() }

// GoogleSettingsStore checks and keeps the tenants' Google settings (adapters/google), as credentials of kind
// "google".
type GoogleSettingsStore interface {
	// Put checks the settings and stores them. Refusals wrap googlepass.ErrInvalidSettings and never quote the key.
	Put(ctx context.Context, tenantID, issuerID string, serviceAccount []byte, rate float64) (googlepass.SettingsInfo, error)
}

// PutGoogleSettingsHandler handles PutGoogleSettings.
type PutGoogleSettingsHandler struct {
	tenants  TenantGetter
	settings GoogleSettingsStore
	changes  TenantChangeLog
}

// NewPutGoogleSettingsHandler returns a handler that stores the settings of tenants in settings, and records each
// change in changes.
func NewPutGoogleSettingsHandler(tenants TenantGetter, settings GoogleSettingsStore, changes TenantChangeLog) PutGoogleSettingsHandler {
	if tenants == nil || settings == nil || changes == nil {
		panic("nil tenants, Google settings store or change log")
	}
	return PutGoogleSettingsHandler{tenants: tenants, settings: settings, changes: changes}
}

// Handle checks and stores the settings and returns what may be shown of them.
func (h PutGoogleSettingsHandler) Handle(ctx context.Context, cmd PutGoogleSettings) (googlepass.SettingsInfo, error) {
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return googlepass.SettingsInfo{}, fmt.Errorf("tenant %s: %w", cmd.TenantID, err)
	}
	if len(cmd.ServiceAccount) == 0 {
		return googlepass.SettingsInfo{}, fmt.Errorf("%w: the service account's key file is missing", googlepass.ErrInvalidSettings)
	}
	var info googlepass.SettingsInfo
	err := h.changes.Record(ctx, cmd.TenantID, func(ctx context.Context) ([]tenant.Event, error) {
		var err error
		if info, err = h.settings.Put(ctx, cmd.TenantID, cmd.IssuerID, cmd.ServiceAccount, cmd.Rate); err != nil {
			return nil, err
		}
		// The service account's key is a secret: the event says it was set, never what it is.
		return []tenant.Event{tenant.Changed{Actor: cmd.Actor.OrUnnamed(), Changes: []string{"google settings set (issuer id, service account key, rate)"}}}, nil
	})
	if err != nil {
		return googlepass.SettingsInfo{}, err
	}
	return info, nil
}
