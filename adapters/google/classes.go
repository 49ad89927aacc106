package google

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/googlepass"
)

// Classes is the google_classes table: each tenant's Google Wallet class of a pass type.
//
// Get serves a class it read less than classMaxAge ago from memory: every Google push builds its object from the
// class, and reading it each time was a statement per push (two for an update held back by the rate limit). A class
// put through this instance (the admin API) is seen at once; one put through another instance or the CLI beside
// `serve` within classMaxAge, as a tenant's changed Google settings are (credentials.DefaultMaxAge). A pass type
// without a class is not remembered, so a class put anywhere for a new pass type is used at once.
type Classes struct {
	db  *sqldb.DB
	now func() time.Time

	mu     sync.Mutex
	cached map[classKey]cachedClass
	// puts counts the classes put, so that a read that a put overtook does not cache what the put replaced.
	puts uint64
}

type classKey struct{ tenantID, passType string }

type cachedClass struct {
	class googlepass.Class
	until time.Time
}

// classMaxAge is how long a class read is served from memory: as long as a tenant's changed settings take to
// reach every instance.
const classMaxAge = credentials.DefaultMaxAge

// maxCachedClasses bounds the classes kept in memory.
const maxCachedClasses = 4096

// NewClasses returns the classes stored in db.
func NewClasses(db *sqldb.DB) (*Classes, error) {
	if db == nil {
		return nil, errors.New("new google classes: nil db")
	}
	return &Classes{db: db, now: time.Now, cached: map[classKey]cachedClass{}}, nil
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
	s.mu.Lock()
	delete(s.cached, classKey{tenantID: tenantID, passType: passType})
	s.puts++
	s.mu.Unlock()
	return nil
}

// Get returns the tenant's class of passType, without its IssuerID. Without one the error wraps
// push.ErrNotSetUp.
func (s *Classes) Get(ctx context.Context, tenantID, passType string) (googlepass.Class, error) {
	key := classKey{tenantID: tenantID, passType: passType}
	s.mu.Lock()
	e, ok := s.cached[key]
	puts := s.puts
	s.mu.Unlock()
	if ok && s.now().Before(e.until) {
		return e.class, nil
	}
	c, err := s.read(ctx, tenantID, passType)
	if err != nil {
		return googlepass.Class{}, err
	}
	s.mu.Lock()
	if s.puts == puts {
		if len(s.cached) >= maxCachedClasses {
			clear(s.cached)
		}
		s.cached[key] = cachedClass{class: c, until: s.now().Add(classMaxAge)}
	}
	s.mu.Unlock()
	return c, nil
}

// read reads the tenant's class of passType from the table.
func (s *Classes) read(ctx context.Context, tenantID, passType string) (googlepass.Class, error) {
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
