package apple

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// PassSources reads what a pass is built from in one query: its row of the passes read model, its
// authenticationToken and the version of its type's latest template. Serving a device's fetch took a query for
// each, and one more to check the token; with 500 devices woken at once the queries, not the cache, set the pace.
type PassSources struct {
	db *sqldb.DB
}

var _ query.ApplePassSources = (*PassSources)(nil)

// NewPassSources returns the pass sources of db.
func NewPassSources(db *sqldb.DB) (*PassSources, error) {
	if db == nil {
		return nil, errors.New("new Apple pass sources: nil db")
	}
	return &PassSources{db: db}, nil
}

// ApplePassSource implements query.ApplePassSources. The template's version is a subquery (both dialects plan it
// as one lookup of apple_templates' primary key), so a template put a moment ago counts at once.
func (s *PassSources) ApplePassSource(ctx context.Context, tenantID, passID string) (query.ApplePassSource, error) {
	var (
		src          query.ApplePassSource
		lastModified int64
		token        sql.NullString
		version      sql.NullInt64
	)
	row := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT `+passes.Columns+`, p.last_modified, t.token,
			(SELECT MAX(v.version) FROM apple_templates v WHERE v.tenant_id = p.tenant_id AND v.pass_type = p.pass_type)
		FROM passes p LEFT JOIN apple_pass_tokens t ON t.tenant_id = p.tenant_id AND t.pass_id = p.pass_id
		WHERE p.tenant_id = $1 AND p.pass_id = $2`, tenantID, passID)
	p, err := passes.ScanPass(row, &lastModified, &token, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return query.ApplePassSource{}, pass.ErrNotFound
	}
	if err != nil {
		return query.ApplePassSource{}, fmt.Errorf("read pass %s: %w", passID, err)
	}
	src.Pass, src.LastModified, src.Token, src.TemplateVersion = p, time.Unix(lastModified, 0).UTC(), token.String, int(version.Int64)
	return src, nil
}
