// Package sqldbtest gives tests a fresh, migrated database of the back end the test run is for.
//
// PASSPUSH_TEST_DATABASE_URL picks it: empty or sqlite means a new SQLite file per test; a postgres:// URL means
// a new database per test on that server, dropped when the test ends.
package sqldbtest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/migrations"
	"github.com/pressly/goose/v3"
)

// EnvURL names the variable that picks the back end.
const EnvURL = "PASSPUSH_TEST_DATABASE_URL"

// NewURL creates an empty database for the test and returns its URL, for tests that start passpush themselves.
func NewURL(t testing.TB) string {
	t.Helper()
	base := baseURL(t)
	if base == "" {
		return "sqlite:" + filepath.Join(t.TempDir(), "passpush.db")
	}
	return createPostgres(t, base, "")
}

// Postgres tells whether the test run is for PostgreSQL, for a test of one back end to skip itself on the other
// before it spends anything on its setup.
func Postgres(t testing.TB) bool {
	t.Helper()
	return baseURL(t) != ""
}

// baseURL is PASSPUSH_TEST_DATABASE_URL, checked: empty for SQLite, else a postgres:// URL.
func baseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" || base == "sqlite" {
		return ""
	}
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		t.Fatalf("%s=%q: want empty, sqlite or a postgres:// URL", EnvURL, base)
	}
	return base
}

// createPostgres creates a database for the test on base's server, a copy of template (the server's default
// when empty), drops it when the test ends and returns its URL.
func createPostgres(t testing.TB, base, template string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	name := "passpush_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", sqldb.Redact(base), err)
	}
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, create); err != nil {
		_ = admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}

// New opens a fresh, migrated database for the test and closes it when the test ends.
func New(t testing.TB) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, newPremigratedURL(t), sqldb.Config{})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return db
}

// newPremigratedURL is NewURL, except that the database starts migrated. An SQLite file starts as a copy of one
// the migrations were applied to once: migrating each test's file cost about half a second of CPU under -race,
// hundreds of times a run (about 50 ms with the copy). A PostgreSQL database is created from a template database
// the migrations were applied to (see migratedPostgres), which saves the migrations' round trips and catalog
// writes per test. The callers still run Migrate, which finds nothing to apply and so checks the copy is current.
func newPremigratedURL(t testing.TB) string {
	t.Helper()
	base := baseURL(t)
	if base != "" {
		template, err := migratedPostgres(base)
		if err != nil {
			t.Fatalf("migrated PostgreSQL template: %v", err)
		}
		return createPostgres(t, base, template)
	}
	url := NewURL(t)
	path, _ := strings.CutPrefix(url, "sqlite:")
	file, err := migratedSQLite()
	if err != nil {
		t.Fatalf("migrated SQLite file: %v", err)
	}
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatalf("copy the migrated SQLite file: %v", err)
	}
	return url
}

// migratedSQLite returns the contents of an SQLite file with every migration applied, made on the first call of the
// test binary. The file is checkpointed and closed first, so it holds the whole database without its -wal file.
var migratedSQLite = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "passpush-sqldbtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "migrated.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+path, sqldb.Config{})
	if err != nil {
		return nil, err
	}
	_, err = sqldb.Migrate(ctx, db)
	if err == nil {
		_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if err := errors.Join(err, db.Close()); err != nil {
		return nil, err
	}
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return nil, fmt.Errorf("%s-wal still holds %d bytes after the checkpoint", path, wal.Size())
	}
	return os.ReadFile(path)
})

// TemplatePrefix starts the name of every template database migratedPostgres makes for a base database: its
// name, then _tmpl_. .ci/run drops the ones of its run's database at the end.
const TemplatePrefix = "_tmpl_"

// migratedPostgres returns the name of a database on base's server with every migration applied, for
// CREATE DATABASE … TEMPLATE. Its name is the base database's (cut to 32 bytes), TemplatePrefix and a hash of the
// migration files, so test binaries of one migration set share it, made by whichever comes first, while a branch
// with other migrations gets its own. It stays on the server after the tests, as a cache; it takes no connections,
// since CREATE DATABASE refuses to copy a database someone is connected to.
var migratedPostgres = onceByKey(postgresTemplate)

// postgresTemplate makes the template database migratedPostgres returns, unless it is there already.
func postgresTemplate(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	hash, err := migrationsHash(sqldb.Postgres.MigrationsDir)
	if err != nil {
		return "", err
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if !identifier.MatchString(prefix) {
		prefix = "passpush"
	}
	name := prefix + TemplatePrefix + hash[:16]
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", sqldb.Redact(base), err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var exists bool
	if err := admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for %s: %w", name, err)
	}
	if exists {
		return name, nil
	}
	// Built under a name of its own and renamed when complete, so the name never holds a half-migrated database,
	// and two binaries that build it at once both end up using the one that was renamed first.
	building := name + "_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:8]
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", fmt.Errorf("create %s: %w", building, err)
	}
	built := false
	defer func() {
		if !built {
			_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		}
	}()
	u.Path = "/" + building
	db, err := sqldb.Open(ctx, u.String(), sqldb.Config{})
	if err != nil {
		return "", fmt.Errorf("open %s: %w", building, err)
	}
	_, err = sqldb.Migrate(ctx, db)
	if err := errors.Join(err, db.Close()); err != nil {
		return "", fmt.Errorf("migrate %s: %w", building, err)
	}
	if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+building+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return "", fmt.Errorf("close %s to connections: %w", building, err)
	}
	_, err = admin.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name)
	var pgErr *pgconn.PgError
	// Another binary's rename came first; the deferred drop removes this one. PostgreSQL says so with
	// duplicate_database when that rename had committed, and with the catalog's unique_violation when both
	// renames ran at once.
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" /* duplicate_database */ || pgErr.Code == "23505" /* unique_violation */) {
		return name, nil
	}
	if err != nil {
		return "", fmt.Errorf("rename %s to %s: %w", building, name, err)
	}
	built = true
	return name, nil
}

// identifier is a database name that needs no quoting and leaves room in PostgreSQL's 63 bytes for the rest of a
// template's name.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

// migrationsHash is the hex SHA-256 of the names and contents of one dialect's migration files.
func migrationsHash(dir string) (string, error) {
	files, err := fs.ReadDir(migrations.FS, dir)
	if err != nil {
		return "", fmt.Errorf("list the %s migrations: %w", dir, err)
	}
	h := sha256.New()
	for _, f := range files {
		body, err := fs.ReadFile(migrations.FS, dir+"/"+f.Name())
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", f.Name(), err)
		}
		fmt.Fprintf(h, "%s %d\n", f.Name(), len(body))
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// onceByKey is sync.OnceValues for each key: f runs once per key, and every caller with that key gets its result.
func onceByKey[V any](f func(key string) (V, error)) func(key string) (V, error) {
	var calls sync.Map // key → func() (V, error)
	return func(key string) (V, error) {
		once, _ := calls.LoadOrStore(key, sync.OnceValues(func() (V, error) { return f(key) }))
		return once.(func() (V, error))()
	}
}

// Instances opens n handles on one fresh database, as n passpush processes would: separate pools on PostgreSQL.
// SQLite serves a single instance, so there the n share one handle, as workers in one process would.
func Instances(t testing.TB, n int) []*sqldb.DB {
	t.Helper()
	ctx := context.Background()
	url := newPremigratedURL(t)
	dbs := make([]*sqldb.DB, n)
	for i := range dbs {
		if i > 0 && dbs[0].Dialect.Name == sqldb.SQLite.Name {
			dbs[i] = dbs[0]
			continue
		}
		db, err := sqldb.Open(ctx, url, sqldb.Config{})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	if _, err := sqldb.Migrate(ctx, dbs[0]); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return dbs
}

// Migrations returns the goose provider of db's migrations, to move the schema to a given version.
func Migrations(t testing.TB, db *sqldb.DB) *goose.Provider {
	t.Helper()
	provider, err := sqldb.NewMigrations(db)
	if err != nil {
		t.Fatal(err)
	}
	return provider
}

// MigratedTo opens a fresh test database with its migrations applied up to version, for a test of the migrations
// after it, which it goes on with through the returned provider. The database is closed when t ends.
func MigratedTo(ctx context.Context, t testing.TB, version int64) (*sqldb.DB, *goose.Provider) {
	t.Helper()
	db, err := sqldb.Open(ctx, NewURL(t), sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	provider := Migrations(t, db)
	if _, err := provider.UpTo(ctx, version); err != nil {
		t.Fatalf("migrate up to %d: %v", version, err)
	}
	return db, provider
}
