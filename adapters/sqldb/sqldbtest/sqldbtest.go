// Package sqldbtest gives tests a fresh, migrated database of the back end the test run is for.
//
// PASSPUSH_TEST_DATABASE_URL picks it: empty or sqlite means a new SQLite file per test; a postgres:// URL means
// a new database per test on that server, dropped when the test ends.
package sqldbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/migrations"
	"github.com/pressly/goose/v3"
)

// EnvURL names the variable that picks the back end.
const EnvURL = "PASSPUSH_TEST_DATABASE_URL"

// NewURL creates an empty database for the test and returns its URL, for tests that start passpush themselves.
func NewURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" || base == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "passpush.db")
	}
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		t.Fatalf("%s=%q: want empty, sqlite or a postgres:// URL", EnvURL, base)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	name := "passpush_test_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", sqldb.Redact(base), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
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

// newPremigratedURL is NewURL, except that an SQLite file starts as a copy of one the migrations were applied to
// once: migrating each test's file cost about half a second of CPU under -race, hundreds of times a run (about
// 50 ms with the copy). The callers still run Migrate, which finds nothing to apply and so checks the copy is
// current. A PostgreSQL database is made empty, as NewURL makes it.
func newPremigratedURL(t testing.TB) string {
	t.Helper()
	url := NewURL(t)
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		file, err := migratedSQLite()
		if err != nil {
			t.Fatalf("migrated SQLite file: %v", err)
		}
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatalf("copy the migrated SQLite file: %v", err)
		}
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
	dir, err := fs.Sub(migrations.FS, db.Dialect.MigrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	dialect := goose.DialectSQLite3
	if db.Dialect.Name == sqldb.Postgres.Name {
		dialect = goose.DialectPostgres
	}
	provider, err := goose.NewProvider(dialect, db.DB, dir)
	if err != nil {
		t.Fatal(err)
	}
	return provider
}
