package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
)

// Resealed is what Reseal did.
type Resealed struct {
	// Sealed counts the tenants whose signing secrets it rewrote.
	Sealed int
	// SharedWith lists, for a tenant with a signing secret another tenant has too (stored before that was
	// refused), the other tenant: the secret gets no fingerprint for the second tenant, and an operator must
	// give one of them a new secret.
	SharedWith map[string]string
}

// Reseal seals again with the box's current key the signing secrets of every tenant not sealed with it (with
// plainOnly, only those stored in plain text before secrets were sealed), and gives every signing secret its
// fingerprints. With plainOnly it leaves the fingerprints that exist, and fills those of the tenants that have
// none under the current key: what every start does. Without it, as a key rotation, it computes them all again.
// It joins the transaction ctx carries.
func (s *Store) Reseal(ctx context.Context, plainOnly bool) (Resealed, error) {
	type row struct{ tenantID, secrets string }
	done := Resealed{SharedWith: map[string]string{}}
	err := sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		fingerprinted := map[string]bool{}
		if plainOnly {
			ids, err := queryStrings(ctx, tx, `SELECT DISTINCT tenant_id FROM sfmc_secret_fingerprints WHERE key_id = $1`, s.box.CurrentKeyID())
			if err != nil {
				return err
			}
			for _, id := range ids {
				fingerprinted[id] = true
			}
		} else if _, err := tx.ExecContext(ctx, `DELETE FROM sfmc_secret_fingerprints`); err != nil {
			return fmt.Errorf("delete the fingerprints: %w", err)
		}
		// Read every row before writing: SQLite's one connection cannot write while a result set is open.
		rows, err := tx.QueryContext(ctx, `SELECT tenant_id, sfmc_signing_secrets FROM tenants ORDER BY tenant_id`)
		if err != nil {
			return err
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.tenantID, &r.secrets); err != nil {
				_ = rows.Close()
				return err
			}
			sealed := secretbox.IsSealed(r.secrets) && (plainOnly || s.box.SealedWithCurrent(r.secrets))
			if sealed && fingerprinted[r.tenantID] {
				continue
			}
			todo = append(todo, r)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range todo {
			secrets, err := s.openSigningSecrets(r.tenantID, r.secrets)
			if err != nil {
				return err
			}
			if !secretbox.IsSealed(r.secrets) || (!plainOnly && !s.box.SealedWithCurrent(r.secrets)) {
				sealed, err := s.sealSigningSecrets(r.tenantID, secrets)
				if err != nil {
					return err
				}
				// Compared with what was read, so that of two instances starting at once only one rewrites it.
				res, err := tx.ExecContext(ctx, `UPDATE tenants SET sfmc_signing_secrets = $1
					WHERE tenant_id = $2 AND sfmc_signing_secrets = $3`, sealed, r.tenantID, r.secrets)
				if err != nil {
					return fmt.Errorf("update the signing secrets of tenant %s: %w", r.tenantID, err)
				}
				if n, err := res.RowsAffected(); err == nil {
					done.Sealed += int(n)
				}
			}
			if err := s.addFingerprints(ctx, tx, r.tenantID, secrets, done.SharedWith); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Resealed{}, fmt.Errorf("seal the tenants' signing secrets: %w", err)
	}
	return done, nil
}

// addFingerprints adds the fingerprints the tenant's secrets lack, and notes in sharedWith the other tenant of a
// fingerprint that is taken. Unlike putFingerprints it refuses nothing: the tenants are already stored.
func (s *Store) addFingerprints(ctx context.Context, tx *sql.Tx, tenantID string, secrets []string, sharedWith map[string]string) error {
	for _, secret := range secrets {
		for _, fp := range s.box.Fingerprints(secret) {
			res, err := tx.ExecContext(ctx, `INSERT INTO sfmc_secret_fingerprints (key_id, fingerprint, tenant_id)
				VALUES ($1, $2, $3) ON CONFLICT (key_id, fingerprint) DO NOTHING`, fp.KeyID, fp.Sum, tenantID)
			if err != nil {
				return fmt.Errorf("insert signing secret fingerprint: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				continue
			}
			var owner string
			if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM sfmc_secret_fingerprints
				WHERE key_id = $1 AND fingerprint = $2`, fp.KeyID, fp.Sum).Scan(&owner); err != nil {
				return fmt.Errorf("read signing secret fingerprint: %w", err)
			}
			if owner != tenantID {
				sharedWith[tenantID] = owner
			}
		}
	}
	return nil
}

func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
