package migrations_test

import (
	"context"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// Migration 00029 leaves half of each page of the delivery queue free for the leases' updates (PostgreSQL; SQLite
// has nothing to change), and puts 00020's fill factor back down.
func TestMigration29_leavesRoomForTheLeasesBothWays(t *testing.T) {
	ctx := context.Background()
	db, provider := sqldbtest.MigratedTo(ctx, t, 25)
	options := func(table string) string {
		t.Helper()
		if db.Dialect.Name != sqldb.Postgres.Name {
			return ""
		}
		var got string
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = $1::regclass`, table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	postgres := db.Dialect.Name == sqldb.Postgres.Name
	want := func(table, onPostgres string) {
		t.Helper()
		if !postgres {
			onPostgres = ""
		}
		if got := options(table); got != onPostgres {
			t.Errorf("%s has options %q, want %q", table, got, onPostgres)
		}
	}
	deliveries := "autovacuum_vacuum_scale_factor=0,autovacuum_vacuum_threshold=1000,fillfactor="
	want("deliveries", deliveries+"80")
	if _, err := provider.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
	want("deliveries", deliveries+"50")
	if _, err := provider.DownTo(ctx, 25); err != nil {
		t.Fatal(err)
	}
	want("deliveries", deliveries+"80")
	if _, err := provider.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
}
