package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/tenant"
)

// TenantReader reads tenants.
type TenantReader interface {
	Get(ctx context.Context, id string) (tenant.Tenant, error)
}

// Directory implements push.ChannelDirectory: a pass's channels are its tenant's webhook, when one is set.
// Apple and Google channels join here, per pass, once passes carry wallet registrations.
type Directory struct {
	tenants TenantReader
	client  *http.Client
}

var _ push.ChannelDirectory = (*Directory)(nil)

// NewDirectory returns a directory that reads tenants and posts with client.
func NewDirectory(tenants TenantReader, client *http.Client) (*Directory, error) {
	if tenants == nil || client == nil {
		return nil, errors.New("new channel directory: tenants and client are required")
	}
	return &Directory{tenants: tenants, client: client}, nil
}

// Channels implements push.ChannelDirectory.
func (d *Directory) Channels(ctx context.Context, tenantID, passID string) ([]push.Channel, error) {
	t, err := d.tenants.Get(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	if t.Webhook.URL == "" {
		return nil, nil
	}
	ch, err := webhook.NewChannel(d.client, t.Webhook.URL, t.Webhook.Secret)
	if err != nil {
		return nil, err
	}
	return []push.Channel{ch}, nil
}
