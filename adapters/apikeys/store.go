// Package apikeys keeps the tenants' API keys in SQL, as SHA-256 hashes.
package apikeys

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/tenant"
)

// Store is the api_keys table.
type Store struct {
	db *sqldb.DB
}

var (
	_ command.APIKeyStore = (*Store)(nil)
	_ query.APIKeyReader  = (*Store)(nil)
)

// NewStore returns the API keys of db.
func NewStore(db *sqldb.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("new API key store: nil db")
	}
	return &Store{db: db}, nil
}

// Add implements command.APIKeyStore, in the transaction ctx carries if any.
func (s *Store) Add(ctx context.Context, k tenant.APIKey) error {
	return sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (tenant_id, name, key_hash, prefix, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, name) DO NOTHING`,
			k.TenantID, k.Name, k.Hash.String(), k.Hint, k.CreatedAt.UTC())
		if err != nil {
			return fmt.Errorf("add API key %s of tenant %s: %w", k.Name, k.TenantID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("add API key %s of tenant %s: %w", k.Name, k.TenantID, err)
		} else if n == 0 {
			return fmt.Errorf("API key %s of tenant %s: %w", k.Name, k.TenantID, tenant.ErrAPIKeyExists)
		}
		return nil
	})
}

// Remove implements command.APIKeyStore, in the transaction ctx carries if any.
func (s *Store) Remove(ctx context.Context, tenantID, name string) error {
	return sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE tenant_id = $1 AND name = $2`, tenantID, name)
		if err != nil {
			return fmt.Errorf("remove API key %s of tenant %s: %w", name, tenantID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("remove API key %s of tenant %s: %w", name, tenantID, err)
		} else if n == 0 {
			return fmt.Errorf("API key %s of tenant %s: %w", name, tenantID, tenant.ErrAPIKeyNotFound)
		}
		return nil
	})
}

const selectKey = `SELECT tenant_id, name, key_hash, prefix, created_at FROM api_keys `

// List implements query.APIKeyReader.
func (s *Store) List(ctx context.Context, tenantID string) ([]tenant.APIKey, error) {
	rows, err := sqldb.ReaderFor(ctx, s.db).QueryContext(ctx, selectKey+`WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list API keys of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()
	keys := []tenant.APIKey{}
	for rows.Next() {
		k, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys of tenant %s: %w", tenantID, err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ByHash implements query.APIKeyReader: one indexed lookup on the unique hash.
func (s *Store) ByHash(ctx context.Context, hash tenant.APIKeyHash) (tenant.APIKey, error) {
	k, err := scan(sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, selectKey+`WHERE key_hash = $1`, hash.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return tenant.APIKey{}, tenant.ErrAPIKeyNotFound
	}
	if err != nil {
		return tenant.APIKey{}, fmt.Errorf("look up API key: %w", err)
	}
	return k, nil
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (tenant.APIKey, error) {
	var k tenant.APIKey
	var hash string
	if err := row.Scan(&k.TenantID, &k.Name, &hash, &k.Hint, &k.CreatedAt); err != nil {
		return tenant.APIKey{}, err
	}
	b, err := hex.DecodeString(hash)
	if err != nil || len(b) != len(k.Hash) {
		return tenant.APIKey{}, fmt.Errorf("API key %s of tenant %s: stored hash is not hex SHA-256", k.Name, k.TenantID)
	}
	copy(k.Hash[:], b)
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}
