// Package tenants keeps tenants in SQL.
package tenants

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/tenant"
)

// Store is the tenants table, and the tenant's webhook, which is a channel credential (adapters/credentials).
// The SFMC signing secrets are sealed with box, and each has a fingerprint in sfmc_secret_fingerprints, whose
// primary key keeps two tenants from having the same one.
type Store struct {
	db          *sqldb.DB
	box         *secretbox.Box
	credentials *credentials.Store
}

// NewStore returns the tenants table of db, whose secrets box seals.
func NewStore(db *sqldb.DB, box *secretbox.Box) (*Store, error) {
	if db == nil {
		return nil, errors.New("new tenant store: nil db")
	}
	creds, err := credentials.NewStore(db, box)
	if err != nil {
		return nil, fmt.Errorf("new tenant store: %w", err)
	}
	return &Store{db: db, box: box, credentials: creds}, nil
}

// SigningSecretsLabel is the additional data the SFMC signing secrets are sealed with besides the tenant.
const SigningSecretsLabel = "tenants/sfmc_signing_secrets"

// selectTenant reads a tenant with its webhook credential, whose data is NULL when it has none.
const selectTenant = `SELECT t.tenant_id, t.name, t.sfmc_signing_secrets, w.data, t.disabled, t.created_at, t.updated_at,
	t.activity_key, t.activity_timeout_ms, t.activity_retry_count, t.activity_retry_delay_ms, t.activity_concurrent_requests,
	t.activity_split_key
	FROM tenants t LEFT JOIN channel_credentials w
	ON w.tenant_id = t.tenant_id AND w.kind = '` + credentials.KindWebhook + `' AND w.name = '` + credentials.DefaultName + `' `

// Get returns the tenant, disabled or not, or tenant.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := s.scan(sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, selectTenant+`WHERE t.tenant_id = $1`, id))
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
		t, err := s.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// Save creates or replaces the tenant, and its webhook credential in the same transaction: it is deleted when
// the tenant has no webhook URL, and written only when it changed, so that saving a tenant's other fields does
// not make the webhook's client be rebuilt. A signing secret another tenant has fails it with
// tenant.ErrSigningSecretInUse.
func (s *Store) Save(ctx context.Context, t tenant.Tenant) error {
	secrets, err := s.sealSigningSecrets(t.ID, t.SFMCSigningSecrets)
	if err != nil {
		return err
	}
	err = sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, disabled, created_at, updated_at,
				activity_key, activity_timeout_ms, activity_retry_count, activity_retry_delay_ms, activity_concurrent_requests,
				activity_split_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (tenant_id) DO UPDATE SET
				name = excluded.name,
				sfmc_signing_secrets = excluded.sfmc_signing_secrets,
				disabled = excluded.disabled,
				updated_at = excluded.updated_at,
				activity_key = excluded.activity_key,
				activity_timeout_ms = excluded.activity_timeout_ms,
				activity_retry_count = excluded.activity_retry_count,
				activity_retry_delay_ms = excluded.activity_retry_delay_ms,
				activity_concurrent_requests = excluded.activity_concurrent_requests,
				activity_split_key = excluded.activity_split_key`,
			t.ID, t.Name, secrets, t.Disabled, t.CreatedAt.UTC(), t.UpdatedAt.UTC(),
			t.Activity.Key, t.Activity.TimeoutMS, t.Activity.RetryCount, t.Activity.RetryDelayMS, t.Activity.ConcurrentRequests,
			t.Activity.SplitKey); err != nil {
			return err
		}
		if err := s.putFingerprints(ctx, tx, t.ID, t.SFMCSigningSecrets); err != nil {
			return err
		}
		return s.saveWebhook(ctx, t.ID, t.Webhook)
	})
	if err != nil {
		return fmt.Errorf("save tenant %s: %w", t.ID, err)
	}
	return nil
}

// sealSigningSecrets returns the stored form of a tenant's signing secrets: their JSON list, sealed.
func (s *Store) sealSigningSecrets(tenantID string, secrets []string) (string, error) {
	list, err := json.Marshal(secrets)
	if err != nil {
		return "", fmt.Errorf("encode signing secrets: %w", err)
	}
	sealed, err := s.box.Seal(tenantID, SigningSecretsLabel, list)
	if err != nil {
		return "", fmt.Errorf("seal signing secrets of tenant %s: %w", tenantID, err)
	}
	return sealed, nil
}

// openSigningSecrets reads the stored form of a tenant's signing secrets, sealed or (before the start-up step
// sealed it) plain.
func (s *Store) openSigningSecrets(tenantID, stored string) ([]string, error) {
	list, err := s.box.Open(tenantID, SigningSecretsLabel, stored)
	if err != nil {
		return nil, err
	}
	var secrets []string
	if err := json.Unmarshal(list, &secrets); err != nil {
		return nil, fmt.Errorf("decode signing secrets of tenant %s: %w", tenantID, err)
	}
	return secrets, nil
}

// putFingerprints replaces the tenant's fingerprints with those of secrets, under every key of the box. The
// primary key refuses a fingerprint another tenant has; concurrent saves of one secret by two tenants wait on
// each other's row, and the second fails.
func (s *Store) putFingerprints(ctx context.Context, tx *sql.Tx, tenantID string, secrets []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM sfmc_secret_fingerprints WHERE tenant_id = $1`, tenantID); err != nil {
		return fmt.Errorf("delete signing secret fingerprints: %w", err)
	}
	for _, secret := range secrets {
		for _, fp := range s.box.Fingerprints(secret) {
			_, err := tx.ExecContext(ctx, `INSERT INTO sfmc_secret_fingerprints (key_id, fingerprint, tenant_id)
				VALUES ($1, $2, $3)`, fp.KeyID, fp.Sum, tenantID)
			if s.db.Dialect.IsUniqueViolation(err) {
				return tenant.ErrSigningSecretInUse
			}
			if err != nil {
				return fmt.Errorf("insert signing secret fingerprint: %w", err)
			}
		}
	}
	return nil
}

// saveWebhook writes the tenant's webhook credential in the transaction ctx carries.
func (s *Store) saveWebhook(ctx context.Context, tenantID string, w tenant.Webhook) error {
	if w.URL == "" {
		return s.credentials.Delete(ctx, tenantID, credentials.KindWebhook, credentials.DefaultName)
	}
	want := credentials.Webhook{URL: w.URL, Secrets: w.Secrets}
	stored, err := s.credentials.Get(ctx, tenantID, credentials.KindWebhook, credentials.DefaultName)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
	case err != nil:
		return err
	default:
		if got, err := credentials.DecodeWebhook(stored.Data); err == nil && got.URL == want.URL && slices.Equal(got.Secrets, want.Secrets) {
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

func (s *Store) scan(row scanner) (tenant.Tenant, error) {
	var t tenant.Tenant
	var secrets string
	var webhook sql.NullString
	a := &t.Activity
	if err := row.Scan(&t.ID, &t.Name, &secrets, &webhook, &t.Disabled, &t.CreatedAt, &t.UpdatedAt,
		&a.Key, &a.TimeoutMS, &a.RetryCount, &a.RetryDelayMS, &a.ConcurrentRequests, &a.SplitKey); err != nil {
		return tenant.Tenant{}, err
	}
	var err error
	if t.SFMCSigningSecrets, err = s.openSigningSecrets(t.ID, secrets); err != nil {
		return tenant.Tenant{}, err
	}
	if webhook.Valid {
		data, err := s.credentials.Open(t.ID, credentials.KindWebhook, credentials.DefaultName, webhook.String)
		if err != nil {
			return tenant.Tenant{}, err
		}
		w, err := credentials.DecodeWebhook(data)
		if err != nil {
			return tenant.Tenant{}, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		t.Webhook = tenant.Webhook{URL: w.URL, Secrets: w.Secrets}
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
