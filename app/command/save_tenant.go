package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/domain/tenant"
)

// SaveMode says whether SaveTenant may create, update, or both.
type SaveMode int

const (
	CreateOrUpdate SaveMode = iota
	CreateOnly
	UpdateOnly
)

// ErrTenantExists is returned by a CreateOnly save of a tenant that exists.
var ErrTenantExists = errors.New("tenant already exists")

// SaveTenant creates or changes a tenant.
type SaveTenant struct {
	TenantID string
	Changes  tenant.Changes
	Mode     SaveMode
	// Actor is who asks, as the tenant's audit event records it.
	Actor tenant.Actor
}

// TenantStore stores tenants.
type TenantStore interface {
	// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
	Get(ctx context.Context, id string) (tenant.Tenant, error)
	Save(ctx context.Context, t tenant.Tenant) error
}

// WebhookURLPolicy is the deployment's rule on webhook URLs (https only, which hosts): configuration, so not
// the domain's to decide.
type WebhookURLPolicy interface {
	// CheckWebhookURL says why the URL may not be a webhook, in an error that does not quote its secrets.
	CheckWebhookURL(rawURL string) error
}

// SaveTenantHandler handles SaveTenant.
type SaveTenantHandler struct {
	tenants  TenantStore
	changes  TenantChangeLog
	webhooks WebhookURLPolicy
	now      func() time.Time
}

// NewSaveTenantHandler returns a handler that keeps tenants in store, records each change in changes, and sets
// only webhook URLs the policy allows.
func NewSaveTenantHandler(store TenantStore, changes TenantChangeLog, webhooks WebhookURLPolicy) SaveTenantHandler {
	if store == nil || changes == nil || webhooks == nil {
		panic("nil tenant store, change log or webhook URL policy")
	}
	return SaveTenantHandler{tenants: store, changes: changes, webhooks: webhooks, now: time.Now}
}

// Handle applies the changes and reports whether the tenant is new. The change and its TenantCreated or
// TenantChanged event commit together.
func (h SaveTenantHandler) Handle(ctx context.Context, cmd SaveTenant) (tenant.Tenant, bool, error) {
	if err := tenant.ValidateID(cmd.TenantID); err != nil {
		return tenant.Tenant{}, false, err
	}
	var saved tenant.Tenant
	var created bool
	err := h.changes.Record(ctx, cmd.TenantID, func(ctx context.Context) ([]tenant.Event, error) {
		before, after, isNew, err := h.save(ctx, cmd)
		if err != nil {
			return nil, err
		}
		saved, created = after, isNew
		if e := tenant.SaveEvent(before, after, isNew, cmd.Actor); e != nil {
			return []tenant.Event{e}, nil
		}
		return nil, nil
	})
	if err != nil {
		return tenant.Tenant{}, false, err
	}
	return saved, created, nil
}

// save applies the changes and returns the tenant before and after, and whether it is new.
func (h SaveTenantHandler) save(ctx context.Context, cmd SaveTenant) (before, after tenant.Tenant, created bool, err error) {
	current, err := h.tenants.Get(ctx, cmd.TenantID)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, tenant.ErrNotFound):
		return tenant.Tenant{}, tenant.Tenant{}, false, fmt.Errorf("load tenant %s: %w", cmd.TenantID, err)
	case exists && cmd.Mode == CreateOnly:
		return tenant.Tenant{}, tenant.Tenant{}, false, fmt.Errorf("add tenant %s: %w", cmd.TenantID, ErrTenantExists)
	case !exists && cmd.Mode == UpdateOnly:
		return tenant.Tenant{}, tenant.Tenant{}, false, fmt.Errorf("update tenant %s: %w", cmd.TenantID, tenant.ErrNotFound)
	}
	before = current
	now := h.now().UTC()
	if !exists {
		current = tenant.Tenant{ID: cmd.TenantID, CreatedAt: now, Activity: tenant.DefaultActivity}
	}
	if err := cmd.Changes.CheckWebhookSecrets(current); err != nil {
		return tenant.Tenant{}, tenant.Tenant{}, false, err
	}
	// Only a URL being set is checked: one stored before the policy is refused when pushed to, and must not
	// block the tenant's other changes.
	if u := cmd.Changes.WebhookURL; u != nil && *u != "" {
		if err := h.webhooks.CheckWebhookURL(*u); err != nil {
			return tenant.Tenant{}, tenant.Tenant{}, false, fmt.Errorf("%w: %w", tenant.ErrInvalid, err)
		}
	}
	updated := cmd.Changes.Apply(current)
	updated.UpdatedAt = now
	if err := updated.Validate(); err != nil {
		return tenant.Tenant{}, tenant.Tenant{}, false, err
	}
	if err := h.tenants.Save(ctx, updated); err != nil {
		return tenant.Tenant{}, tenant.Tenant{}, false, fmt.Errorf("save tenant %s: %w", cmd.TenantID, err)
	}
	return before, updated, !exists, nil
}
