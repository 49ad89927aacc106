package query

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/googlepass"
)

// GoogleSettings shows a tenant's Google Wallet settings: its issuer, its service account's email and its rate,
// never the key.
type GoogleSettings struct {
	TenantID string
}

// GoogleSettingsReader reads what may be shown of the tenants' Google settings (adapters/google).
type GoogleSettingsReader interface {
	// Info returns the tenant's settings, or an error wrapping push.ErrNotSetUp when it has none.
	Info(ctx context.Context, tenantID string) (googlepass.SettingsInfo, error)
}

// GoogleSettingsHandler handles GoogleSettings.
type GoogleSettingsHandler struct {
	tenants  TenantReader
	settings GoogleSettingsReader
}

// NewGoogleSettingsHandler returns a handler that reads the settings of tenants from settings.
func NewGoogleSettingsHandler(tenants TenantReader, settings GoogleSettingsReader) GoogleSettingsHandler {
	if tenants == nil || settings == nil {
		panic("nil tenants or Google settings")
	}
	return GoogleSettingsHandler{tenants: tenants, settings: settings}
}

// Handle returns the settings: tenant.ErrNotFound for an unknown tenant, an error wrapping push.ErrNotSetUp for
// a tenant without Google settings.
func (h GoogleSettingsHandler) Handle(ctx context.Context, q GoogleSettings) (googlepass.SettingsInfo, error) {
	if _, err := h.tenants.Get(ctx, q.TenantID); err != nil {
		return googlepass.SettingsInfo{}, fmt.Errorf("tenant %s: %w", q.TenantID, err)
	}
	return h.settings.Info(ctx, q.TenantID)
}
