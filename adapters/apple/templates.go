package apple

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/internal/sizedlru"
)

// TemplateFiles reads templates from a zip or a folder: command.AppleTemplateFiles on ReadTemplateZip and
// ReadTemplateDir.
type TemplateFiles struct{}

var _ command.AppleTemplateFiles = TemplateFiles{}

func (TemplateFiles) ReadZip(zip []byte) (applepass.Template, error) { return ReadTemplateZip(zip) }
func (TemplateFiles) ReadDir(dir string) (applepass.Template, error) { return ReadTemplateDir(dir) }

// Templates is the apple_templates table: every version of every tenant's template of a pass type, as a zip of its
// files. Parsed templates are kept in memory by version, which never changes once stored.
type Templates struct {
	db     *sqldb.DB
	now    func() time.Time
	parsed *sizedlru.Cache[templateKey, query.AppleTemplate]
}

type templateKey struct {
	tenantID, passType string
	version            int
}

// The parsed templates kept in memory, the least recently used going first. Every pass built asks for its type's
// latest version, so the bounds must hold the templates of every pass type in use: a bound of 64, with all of
// them forgotten at once past it, made a service with more pass types in use read and unzip templates from the
// database again and again.
const (
	maxParsedTemplates     = 4096
	maxParsedTemplateBytes = 128 << 20
)

var (
	_ command.AppleTemplateStore = (*Templates)(nil)
	_ query.AppleTemplates       = (*Templates)(nil)
)

// NewTemplates returns the templates stored in db.
func NewTemplates(db *sqldb.DB) (*Templates, error) {
	if db == nil {
		return nil, errors.New("new Apple templates: nil db")
	}
	parsed, err := sizedlru.New[templateKey](maxParsedTemplates, maxParsedTemplateBytes,
		func(t query.AppleTemplate) int { return t.Template.Size() })
	if err != nil {
		return nil, fmt.Errorf("new Apple templates: %w", err)
	}
	return &Templates{db: db, now: time.Now, parsed: parsed}, nil
}

// Add implements command.AppleTemplateStore. Two puts at once get two versions: the one that loses the race for a
// version number takes the next. It tries again as long as it loses: each loss is another put's success, so the
// puts in flight all finish, however many there are.
func (s *Templates) Add(ctx context.Context, tenantID, passType string, t applepass.Template) (int, error) {
	zipped, err := zipTemplate(t)
	if err != nil {
		return 0, err
	}
	// In microseconds, as PostgreSQL keeps it: the version kept in memory says what the stored one says.
	createdAt := s.now().UTC().Truncate(time.Microsecond)
	for {
		var version int
		err := sqldb.InSavepoint(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM apple_templates
				WHERE tenant_id = $1 AND pass_type = $2`, tenantID, passType).Scan(&version); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO apple_templates
				(tenant_id, pass_type, version, pass_type_identifier, template_zip, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				tenantID, passType, version, t.PassTypeIdentifier(), zipped, createdAt)
			return err
		})
		if err != nil && s.db.Dialect.IsUniqueViolation(err) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store the Apple template of pass type %s of tenant %s: %w", passType, tenantID, err)
		}
		s.parsed.Add(templateKey{tenantID, passType, version}, query.AppleTemplate{Version: version, CreatedAt: createdAt, Template: t})
		return version, nil
	}
}

// Latest implements query.AppleTemplates.
func (s *Templates) Latest(ctx context.Context, tenantID, passType string) (query.AppleTemplate, error) {
	var version int
	err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT version FROM apple_templates
		WHERE tenant_id = $1 AND pass_type = $2 ORDER BY version DESC LIMIT 1`, tenantID, passType).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return query.AppleTemplate{}, fmt.Errorf("%w: tenant %s has no Apple template for pass type %q", query.ErrAppleNotConfigured, tenantID, passType)
	}
	if err != nil {
		return query.AppleTemplate{}, fmt.Errorf("read the Apple template of pass type %s of tenant %s: %w", passType, tenantID, err)
	}
	return s.Version(ctx, tenantID, passType, version)
}

// Version implements query.AppleTemplates.
func (s *Templates) Version(ctx context.Context, tenantID, passType string, version int) (query.AppleTemplate, error) {
	key := templateKey{tenantID, passType, version}
	if t, ok := s.parsed.Get(key); ok {
		return t, nil
	}
	var (
		zipped    []byte
		createdAt time.Time
	)
	err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT template_zip, created_at FROM apple_templates
		WHERE tenant_id = $1 AND pass_type = $2 AND version = $3`, tenantID, passType, version).Scan(&zipped, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return query.AppleTemplate{}, fmt.Errorf("%w: tenant %s has no Apple template %d for pass type %q", query.ErrAppleNotConfigured, tenantID, version, passType)
	}
	if err != nil {
		return query.AppleTemplate{}, fmt.Errorf("read the Apple template of pass type %s of tenant %s: %w", passType, tenantID, err)
	}
	parsed, err := ReadTemplateZip(zipped)
	if err != nil {
		return query.AppleTemplate{}, fmt.Errorf("stored Apple template %d of pass type %s of tenant %s: %w", version, passType, tenantID, err)
	}
	t := query.AppleTemplate{Version: version, CreatedAt: createdAt.UTC(), Template: parsed}
	s.parsed.Add(key, t)
	return t, nil
}

// zipTemplate writes the template's files (pass.json, images, *.lproj/) as a zip, in name order.
func zipTemplate(t applepass.Template) ([]byte, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	files := t.Files()
	names := append([]string{"pass.json"}, t.FileNames()...)
	for _, name := range names {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			return nil, fmt.Errorf("zip the template: %w", err)
		}
		if _, err := w.Write(files[name]); err != nil {
			return nil, fmt.Errorf("zip the template: %w", err)
		}
	}
	if err := z.Close(); err != nil {
		return nil, fmt.Errorf("zip the template: %w", err)
	}
	return buf.Bytes(), nil
}
