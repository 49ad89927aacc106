package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
)

// TestQueryIn_takesMoreKeysThanOneStatementMayBind: a lookup by 40,000 keys, more than SQLite binds in one
// statement, finds every row it should, once, and only rows of the tenant the head asks for.
func TestQueryIn_takesMoreKeysThanOneStatementMayBind(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE lookup (tenant_id TEXT NOT NULL, k TEXT NOT NULL, PRIMARY KEY (tenant_id, k))`,
		`INSERT INTO lookup (tenant_id, k) VALUES ('t1', 'k-00007'), ('t1', 'k-25000'), ('t1', 'k-39999'), ('t2', 'k-00008')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	keys := make([]string, 40000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k-%05d", i)
	}
	var found []string
	err := sqldb.QueryIn(ctx, db, `SELECT k FROM lookup WHERE tenant_id = $1 AND `, "k", ``, []any{"t1"}, keys,
		func(rows *sql.Rows) error {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			found = append(found, k)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(found)
	if want := []string{"k-00007", "k-25000", "k-39999"}; !slices.Equal(found, want) {
		t.Errorf("found %v, want %v", found, want)
	}
}
