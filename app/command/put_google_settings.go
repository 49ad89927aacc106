package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/googlepass"
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
}

// NewPutGoogleSettingsHandler returns a handler that stores the settings of tenants in settings.
func NewPutGoogleSettingsHandler(tenants TenantGetter, settings GoogleSettingsStore) PutGoogleSettingsHandler {
	if tenants == nil || settings == nil {
		panic("nil tenants or Google settings store")
	}
	return PutGoogleSettingsHandler{tenants: tenants, settings: settings}
}

// Handle checks and stores the settings and returns what may be shown of them.
func (h PutGoogleSettingsHandler) Handle(ctx context.Context, cmd PutGoogleSettings) (googlepass.SettingsInfo, error) {
	if _, err := h.tenants.Get(ctx, cmd.TenantID); err != nil {
		return googlepass.SettingsInfo{}, fmt.Errorf("tenant %s: %w", cmd.TenantID, err)
	}
	if len(cmd.ServiceAccount) == 0 {
		return googlepass.SettingsInfo{}, fmt.Errorf("%w: the service account's key file is missing", googlepass.ErrInvalidSettings)
	}
	return h.settings.Put(ctx, cmd.TenantID, cmd.IssuerID, cmd.ServiceAccount, cmd.Rate)
}
