// Package tenants keeps tenants in SQL.
package tenants

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/tenant"
)

// Store is the tenants table, and the tenant's webhook, which is a channel credential (adapters/credentials).
type Store struct {
	db          *sqldb.DB
	credentials *credentials.Store
}

// NewStore returns the tenants table of db.
func NewStore(db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("new tenant store: nil db")
	}
	creds, err := credentials.NewStore(db)
	if err != nil {
		return nil, fmt.Errorf("new tenant store: %w", err)
	}
	return &Store{db: db, credentials: creds}, nil
}

// selectTenant reads a tenant with its webhook credential, whose data is NULL when it has none.
const selectTenant = `SELECT t.tenant_id, t.name, t.sfmc_signing_secrets, w.data, t.disabled, t.created_at, t.updated_at,
	t.activity_key, t.activity_timeout_ms, t.activity_retry_count, t.activity_retry_delay_ms, t.activity_concurrent_requests
	FROM tenants t LEFT JOIN channel_credentials w
	ON w.tenant_id = t.tenant_id AND w.kind = '` + credentials.KindWebhook + `' AND w.name = '` + credentials.DefaultName + `' `

// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := scan(sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, selectTenant+`WHERE t.tenant_id = $1`, id))
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
	rows, err := sqldb.ReaderFor(ctx, s.db).QueryContext(ctx, selectTenant+`ORDER BY t.tenant_id`)
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

// Save creates or replaces the tenant, and its webhook credential in the same transaction: it is deleted when
// the tenant has no webhook URL, and written only when it changed, so that saving a tenant's other fields does
// not make the webhook's client be rebuilt.
func (s *Store) Save(ctx context.Context, t tenant.Tenant) error {
	secrets, err := json.Marshal(t.SFMCSigningSecrets)
	if err != nil {
		return fmt.Errorf("encode signing secrets: %w", err)
	}
	err = sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, disabled, created_at, updated_at,
				activity_key, activity_timeout_ms, activity_retry_count, activity_retry_delay_ms, activity_concurrent_requests)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (tenant_id) DO UPDATE SET
				name = excluded.name,
				sfmc_signing_secrets = excluded.sfmc_signing_secrets,
				disabled = excluded.disabled,
				updated_at = excluded.updated_at,
				activity_key = excluded.activity_key,
				activity_timeout_ms = excluded.activity_timeout_ms,
				activity_retry_count = excluded.activity_retry_count,
				activity_retry_delay_ms = excluded.activity_retry_delay_ms,
				activity_concurrent_requests = excluded.activity_concurrent_requests`,
			t.ID, t.Name, string(secrets), t.Disabled, t.CreatedAt.UTC(), t.UpdatedAt.UTC(),
			t.Activity.Key, t.Activity.TimeoutMS, t.Activity.RetryCount, t.Activity.RetryDelayMS, t.Activity.ConcurrentRequests); err != nil {
			return err
		}
		return s.saveWebhook(ctx, t.ID, t.Webhook)
	})
	if err != nil {
		return fmt.Errorf("save tenant %s: %w", t.ID, err)
	}
	return nil
}

// saveWebhook writes the tenant's webhook credential in the transaction ctx carries.
func (s *Store) saveWebhook(ctx context.Context, tenantID string, w tenant.Webhook) error {
	if w.URL == "" {
		return s.credentials.Delete(ctx, tenantID, credentials.KindWebhook, credentials.DefaultName)
	}
	want := credentials.Webhook{URL: w.URL, Secret: w.Secret}
	stored, err := s.credentials.Get(ctx, tenantID, credentials.KindWebhook, credentials.DefaultName)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
	case err != nil:
		return err
	default:
		if got, err := credentials.DecodeWebhook(stored.Data); err == nil && got == want {
			return nil
		}
	}
	data, err := credentials.EncodeWebhook(want)
	if err != nil {
		return err
	}
	return s.credentials.Put(ctx, tenantID, credentials.KindWebhook, credentials.DefaultName, data)
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (tenant.Tenant, error) {
	var t tenant.Tenant
	var secrets string
	var webhook sql.NullString
	a := &t.Activity
	if err := row.Scan(&t.ID, &t.Name, &secrets, &webhook, &t.Disabled, &t.CreatedAt, &t.UpdatedAt,
		&a.Key, &a.TimeoutMS, &a.RetryCount, &a.RetryDelayMS, &a.ConcurrentRequests); err != nil {
		return tenant.Tenant{}, err
	}
	if err := json.Unmarshal([]byte(secrets), &t.SFMCSigningSecrets); err != nil {
		return tenant.Tenant{}, fmt.Errorf("decode signing secrets of tenant %s: %w", t.ID, err)
	}
	if webhook.Valid {
		w, err := credentials.DecodeWebhook([]byte(webhook.String))
		if err != nil {
			return tenant.Tenant{}, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		t.Webhook = tenant.Webhook{URL: w.URL, Secret: w.Secret}
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// Count returns how many tenants there are, disabled or not. Tenants are never deleted, so a change of the count
// means a tenant was created: the cache checks it to forget its negative lookups.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tenants: %w", err)
	}
	return n, nil
}
