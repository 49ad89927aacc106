package sqldbtest

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
)

func TestNew_isMigratedWithNothingPending(t *testing.T) {
	db := New(t)
	pending, err := sqldb.PendingMigrations(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if pending {
		t.Fatal("a migration is pending on a new test database")
	}
	// A table the migrations make is there, and empty.
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("deliveries: %d rows, %v", n, err)
	}
}

func TestNew_givesEachTestADatabaseOfItsOwn(t *testing.T) {
	var first *sqldb.DB
	t.Run("writes", func(t *testing.T) {
		first = New(t)
		if _, err := first.Exec(`INSERT INTO tenants (tenant_id, created_at, updated_at) VALUES ('acme', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`); err != nil {
			t.Fatal(err)
		}
	})
	var n int
	if err := New(t).QueryRow(`SELECT COUNT(*) FROM tenants`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a second test database holds %d tenants (%v), want none: the template took the first one's write?", n, err)
	}
}

// Two test binaries that start at once both build the template; both must end up with the one that was renamed
// first, and no half-built database may stay behind.
func TestPostgresTemplate_twoBuildersAtOnceShareOneAndLeaveNothingElse(t *testing.T) {
	base := baseURL(t)
	if base == "" {
		t.Skip("PostgreSQL only: SQLite's migrated file is made in the test binary's memory")
	}
	// A base database of the test's own, so the template's name (base name + hash) is new to the server.
	own := NewURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(own)
	prefix := strings.TrimPrefix(u.Path, "/") + TemplatePrefix
	t.Cleanup(func() {
		defer admin.Close()
		rows, err := admin.Query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, prefix)
		if err != nil {
			t.Log(err)
			return
		}
		var names []string
		for rows.Next() {
			var name string
			_ = rows.Scan(&name)
			names = append(names, name)
		}
		_ = rows.Close()
		for _, name := range names {
			if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name); err != nil {
				t.Log(err)
			}
		}
	})

	names := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() { names[i], errs[i] = postgresTemplate(own) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("builder %d: %v", i, err)
		}
	}
	if names[0] != names[1] || !strings.HasPrefix(names[0], prefix) {
		t.Fatalf("the builders answered %q and %q, want one name starting %q", names[0], names[1], prefix)
	}
	rows, err := admin.Query(`SELECT datname, datallowconn FROM pg_database WHERE starts_with(datname, $1)`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var name string
		var allowConn bool
		if err := rows.Scan(&name, &allowConn); err != nil {
			t.Fatal(err)
		}
		if allowConn {
			t.Errorf("%s takes connections: one would stop CREATE DATABASE … TEMPLATE from copying it", name)
		}
		found = append(found, name)
	}
	if len(found) != 1 || found[0] != names[0] {
		t.Fatalf("databases %v on the server, want only the template %s", found, names[0])
	}

	// A third builder finds it and builds nothing, and a database copied from it is migrated.
	again, err := postgresTemplate(own)
	if err != nil || again != names[0] {
		t.Fatalf("third builder: %q, %v; want %q", again, err, names[0])
	}
	copied := createPostgres(t, base, again)
	db, err := sqldb.Open(context.Background(), copied, sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pending, err := sqldb.PendingMigrations(context.Background(), db); err != nil || pending {
		t.Fatalf("a copy of the template: pending %v, %v", pending, err)
	}
}
