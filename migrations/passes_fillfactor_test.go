package migrations_test

import (
	"context"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// Migration 00029 leaves room on the passes read model's pages (PostgreSQL; SQLite has nothing to change), and
// takes it back down.
func TestMigration29_leavesRoomOnThePassesPagesBothWays(t *testing.T) {
	ctx := context.Background()
	db, provider := sqldbtest.MigratedTo(ctx, t, 25)
	options := func() string {
		t.Helper()
		if db.Dialect.Name != sqldb.Postgres.Name {
			return ""
		}
		var got string
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'passes'::regclass`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := options(); got != "" {
		t.Fatalf("passes has options %q before the migration, want none", got)
	}
	if _, err := provider.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
	if got, want := options(), map[bool]string{true: "fillfactor=70", false: ""}[db.Dialect.Name == sqldb.Postgres.Name]; got != want {
		t.Errorf("passes has options %q after the migration, want %q", got, want)
	}
	if _, err := provider.DownTo(ctx, 25); err != nil {
		t.Fatal(err)
	}
	if got := options(); got != "" {
		t.Errorf("passes has options %q after the migration down, want none", got)
	}
	if _, err := provider.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
}
