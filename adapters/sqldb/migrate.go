package sqldb

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/passpush/passpush/migrations"
	"github.com/pressly/goose/v3"
)

// Migrate applies every migration not yet applied and returns the versions it applied.
func Migrate(ctx context.Context, db *DB) ([]int64, error) {
	provider, err := NewMigrations(db)
	if err != nil {
		return nil, err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// PendingMigrations reports whether a migration embedded in the binary is not applied to db yet: an instance of
// a newer version started before `passpush migrate` ran, or a database restored from an older backup.
func PendingMigrations(ctx context.Context, db *DB) (bool, error) {
	provider, err := NewMigrations(db)
	if err != nil {
		return false, err
	}
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("read applied migrations: %w", err)
	}
	return pending, nil
}

// NewMigrations returns the goose provider of db's migrations: the SQL files of the dialect's folder, and the
// migrations written in Go (migrations.Go).
func NewMigrations(db *DB) (*goose.Provider, error) {
	dir, err := fs.Sub(migrations.FS, db.Dialect.MigrationsDir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", db.Dialect.Name, err)
	}
	provider, err := goose.NewProvider(db.Dialect.goose, db.DB, dir, goose.WithGoMigrations(migrations.Go(db.Dialect.Name)...))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return provider, nil
}
