// Package tenants keeps tenants in SQL.
package tenants

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/tenant"
)

// Store is the tenants table.
type Store struct {
	db *sqldb.DB
}

// NewStore returns the tenants table of db.
func NewStore(db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("new tenant store: nil db")
	}
	return &Store{db: db}, nil
}

const selectTenant = `SELECT tenant_id, name, sfmc_signing_secrets, webhook_url, webhook_secret, disabled, created_at, updated_at,
	activity_key, activity_timeout_ms, activity_retry_count, activity_retry_delay_ms, activity_concurrent_requests FROM tenants `

// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := scan(sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, selectTenant+`WHERE tenant_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return tenant.Tenant{}, tenant.ErrNotFound
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// List returns every tenant ordered by id.
func (s *Store) List(ctx context.Context) ([]tenant.Tenant, error) {
	rows, err := sqldb.ReaderFor(ctx, s.db).QueryContext(ctx, selectTenant+`ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ts []tenant.Tenant
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// Save creates or replaces the tenant.
func (s *Store) Save(ctx context.Context, t tenant.Tenant) error {
	secrets, err := json.Marshal(t.SFMCSigningSecrets)
	if err != nil {
		return fmt.Errorf("encode signing secrets: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, webhook_url, webhook_secret, disabled, created_at, updated_at,
			activity_key, activity_timeout_ms, activity_retry_count, activity_retry_delay_ms, activity_concurrent_requests)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (tenant_id) DO UPDATE SET
			name = excluded.name,
			sfmc_signing_secrets = excluded.sfmc_signing_secrets,
			webhook_url = excluded.webhook_url,
			webhook_secret = excluded.webhook_secret,
			disabled = excluded.disabled,
			updated_at = excluded.updated_at,
			activity_key = excluded.activity_key,
			activity_timeout_ms = excluded.activity_timeout_ms,
			activity_retry_count = excluded.activity_retry_count,
			activity_retry_delay_ms = excluded.activity_retry_delay_ms,
			activity_concurrent_requests = excluded.activity_concurrent_requests`,
		t.ID, t.Name, string(secrets), t.Webhook.URL, t.Webhook.Secret, t.Disabled, t.CreatedAt.UTC(), t.UpdatedAt.UTC(),
		t.Activity.Key, t.Activity.TimeoutMS, t.Activity.RetryCount, t.Activity.RetryDelayMS, t.Activity.ConcurrentRequests)
	if err != nil {
		return fmt.Errorf("save tenant %s: %w", t.ID, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (tenant.Tenant, error) {
	var t tenant.Tenant
	var secrets string
	a := &t.Activity
	if err := row.Scan(&t.ID, &t.Name, &secrets, &t.Webhook.URL, &t.Webhook.Secret, &t.Disabled, &t.CreatedAt, &t.UpdatedAt,
		&a.Key, &a.TimeoutMS, &a.RetryCount, &a.RetryDelayMS, &a.ConcurrentRequests); err != nil {
		return tenant.Tenant{}, err
	}
	if err := json.Unmarshal([]byte(secrets), &t.SFMCSigningSecrets); err != nil {
		return tenant.Tenant{}, fmt.Errorf("decode signing secrets of tenant %s: %w", t.ID, err)
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}
