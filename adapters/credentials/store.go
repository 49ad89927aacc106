// Package credentials keeps the channels' credentials in SQL, apart from the tenant row, keyed by (tenant, kind,
// name), and caches the long-lived clients built from them (Clients). Each kind of credential has one codec that
// reads and writes its JSON (webhook.go).
package credentials

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
)

// ErrNotFound is returned for a credential that is not stored.
var ErrNotFound = errors.New("credential not found")

// Credential is one stored credential of a tenant's channel.
type Credential struct {
	TenantID string
	Kind     string // the channel: "webhook", "apple", "google"
	Name     string // which of the kind's credentials: "default", a Pass Type ID, …
	Data     []byte // the kind's JSON, opened: the table holds it sealed (adapters/secretbox)
	// Revision changes on every write of the credential, and is never the same for a credential deleted and put
	// again: it is the write's time in Unix microseconds, or one more than the previous revision if that is later.
	Revision  int64
	UpdatedAt time.Time
}

// Store is the channel_credentials table. Every credential's data is sealed with box before it is written and
// opened when it is read, so the table never holds a secret in clear.
type Store struct {
	db  *sqldb.DB
	box *secretbox.Box
	now func() time.Time
}

// NewStore returns the channel_credentials table of db, whose data box seals.
func NewStore(db *sqldb.DB, box *secretbox.Box) (*Store, error) {
	if db == nil {
		return nil, errors.New("new credential store: nil db")
	}
	if box == nil {
		return nil, errors.New("new credential store: nil secret box")
	}
	return &Store{db: db, box: box, now: time.Now}, nil
}

// Label is the additional data a credential's data is sealed with besides its tenant: a sealed credential copied
// to another kind or name fails to open.
func Label(kind, name string) string { return "channel_credentials/" + kind + "/" + name }

// seal returns the stored form of a credential's data.
func (s *Store) seal(tenantID, kind, name string, data []byte) (string, error) {
	sealed, err := s.box.Seal(tenantID, Label(kind, name), data)
	if err != nil {
		return "", fmt.Errorf("seal %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return sealed, nil
}

// Open returns the data of a credential as the table stores it: what a query joining the table reads.
func (s *Store) Open(tenantID, kind, name, stored string) ([]byte, error) {
	return s.box.Open(tenantID, Label(kind, name), stored)
}

// Put creates or replaces the credential and gives it a new revision. It joins the transaction ctx carries (see
// sqldb.InTx), so a caller can write a credential together with its own rows.
func (s *Store) Put(ctx context.Context, tenantID, kind, name string, data []byte) error {
	sealed, err := s.seal(tenantID, kind, name, data)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO channel_credentials (tenant_id, kind, name, data, revision, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, kind, name) DO UPDATE SET
				data = excluded.data,
				revision = CASE WHEN excluded.revision > channel_credentials.revision
					THEN excluded.revision ELSE channel_credentials.revision + 1 END,
				updated_at = excluded.updated_at`,
			tenantID, kind, name, sealed, now.UnixMicro(), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("put %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return nil
}

// Create stores the credential only where there is none, and reports whether it did: of two instances making a
// tenant's first key at once, one wins and both read the same. Put would replace it.
func (s *Store) Create(ctx context.Context, tenantID, kind, name string, data []byte) (created bool, err error) {
	sealed, err := s.seal(tenantID, kind, name, data)
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	err = sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO channel_credentials (tenant_id, kind, name, data, revision, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, kind, name) DO NOTHING`,
			tenantID, kind, name, sealed, now.UnixMicro(), now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("create %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return created, nil
}

// Get returns the credential, or ErrNotFound.
func (s *Store) Get(ctx context.Context, tenantID, kind, name string) (Credential, error) {
	c, err := s.scan(sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, selectCredential+`
		WHERE tenant_id = $1 AND kind = $2 AND name = $3`, tenantID, kind, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Credential{}, fmt.Errorf("%s credential %s of tenant %s: %w", kind, name, tenantID, ErrNotFound)
	}
	if err != nil {
		return Credential{}, fmt.Errorf("get %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return c, nil
}

// revision returns the credential's revision, or ErrNotFound: what Clients checks, without reading the data.
func (s *Store) revision(ctx context.Context, tenantID, kind, name string) (int64, error) {
	var revision int64
	err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT revision FROM channel_credentials
		WHERE tenant_id = $1 AND kind = $2 AND name = $3`, tenantID, kind, name).Scan(&revision)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s credential %s of tenant %s: %w", kind, name, tenantID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("get the revision of %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return revision, nil
}

// List returns the tenant's credentials of kind, ordered by name.
func (s *Store) List(ctx context.Context, tenantID, kind string) ([]Credential, error) {
	rows, err := sqldb.ReaderFor(ctx, s.db).QueryContext(ctx, selectCredential+`
		WHERE tenant_id = $1 AND kind = $2 ORDER BY name`, tenantID, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s credentials of tenant %s: %w", kind, tenantID, err)
	}
	defer rows.Close()
	var cs []Credential
	for rows.Next() {
		c, err := s.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s credentials of tenant %s: %w", kind, tenantID, err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s credentials of tenant %s: %w", kind, tenantID, err)
	}
	return cs, nil
}

// Delete removes the credential; deleting one that is not stored is no error. Like Put, it joins the
// transaction ctx carries.
func (s *Store) Delete(ctx context.Context, tenantID, kind, name string) error {
	err := sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM channel_credentials WHERE tenant_id = $1 AND kind = $2 AND name = $3`,
			tenantID, kind, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %s credential %s of tenant %s: %w", kind, name, tenantID, err)
	}
	return nil
}

const selectCredential = `SELECT tenant_id, kind, name, data, revision, updated_at FROM channel_credentials`

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scan(row scanner) (Credential, error) {
	var c Credential
	var data string
	if err := row.Scan(&c.TenantID, &c.Kind, &c.Name, &data, &c.Revision, &c.UpdatedAt); err != nil {
		return Credential{}, err
	}
	opened, err := s.Open(c.TenantID, c.Kind, c.Name, data)
	if err != nil {
		return Credential{}, err
	}
	c.Data = opened
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}
