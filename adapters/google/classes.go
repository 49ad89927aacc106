package google

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/googlepass"
)

// Classes is the google_classes table: each tenant's Google Wallet class of a pass type.
type Classes struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewClasses returns the classes stored in db.
func NewClasses(db *sqldb.DB) (*Classes, error) {
	if db == nil {
		return nil, errors.New("new google classes: nil db")
	}
	return &Classes{db: db, now: time.Now}, nil
}

// Put stores the tenant's class of passType in place of the one it had. The class is stored as given: check it
// first (googlepass.Class.Check). Its IssuerID is not stored; Get's caller sets it from the settings.
func (s *Classes) Put(ctx context.Context, tenantID, passType string, c googlepass.Class) error {
	err := sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO google_classes (tenant_id, pass_type, object_type, class_id, template, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant_id, pass_type) DO UPDATE SET
				object_type = excluded.object_type,
				class_id = excluded.class_id,
				template = excluded.template,
				updated_at = excluded.updated_at`,
			tenantID, passType, c.ObjectType, c.ClassID, string(c.Template), s.now().UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("store the Google class of pass type %s of tenant %s: %w", passType, tenantID, err)
	}
	return nil
}

// Get returns the tenant's class of passType, without its IssuerID. Without one the error wraps
// push.ErrNotSetUp.
func (s *Classes) Get(ctx context.Context, tenantID, passType string) (googlepass.Class, error) {
	var (
		c        googlepass.Class
		template string
	)
	err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT object_type, class_id, template FROM google_classes
		WHERE tenant_id = $1 AND pass_type = $2`, tenantID, passType).Scan(&c.ObjectType, &c.ClassID, &template)
	if errors.Is(err, sql.ErrNoRows) {
		return googlepass.Class{}, fmt.Errorf("%w: tenant %s has no Google class for pass type %q", errNotSetUp, tenantID, passType)
	}
	if err != nil {
		return googlepass.Class{}, fmt.Errorf("read the Google class of pass type %s of tenant %s: %w", passType, tenantID, err)
	}
	c.Template = []byte(template)
	return c, nil
}
