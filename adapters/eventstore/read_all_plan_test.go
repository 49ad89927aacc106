package eventstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// A rebuild pages through the whole store with ReadAll: a page must walk the global order's index from the
// position, not sort every event after it, or each page costs as much as the store is large. The planner is
// told that sorting is dear (PostgreSQL) so that the plan shows whether the index can give the order at all,
// whatever the size of the table.
func TestReadAll_walksTheGlobalOrderIndexInsteadOfSorting(t *testing.T) {
	db := sqldbtest.New(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	explain := `EXPLAIN QUERY PLAN `
	sorts := "TEMP B-TREE"
	if db.Dialect.Name == sqldb.Postgres.Name {
		if _, err := conn.ExecContext(ctx, `SET enable_sort = off`); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = conn.ExecContext(ctx, `RESET enable_sort`) }()
		explain, sorts = `EXPLAIN `, "Sort"
	}
	rows, err := conn.QueryContext(ctx, explain+readAllQuery(db.Dialect), db.Dialect.Planned("1000", int64(10), 5000)...)
	if err != nil {
		t.Fatal(err)
	}
	plan := planText(t, rows)
	if strings.Contains(plan, sorts) {
		t.Errorf("ReadAll sorts instead of walking the index in global order:\n%s", plan)
	}
}

// planText joins the last column of each row of an EXPLAIN: the plan's text on both back ends.
func planText(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		values := make([]any, len(columns))
		for i := range values {
			values[i] = new(any)
		}
		if err := rows.Scan(values...); err != nil {
			t.Fatal(err)
		}
		var line []string
		for _, v := range values {
			switch x := (*v.(*any)).(type) {
			case string:
				line = append(line, x)
			case []byte:
				line = append(line, string(x))
			}
		}
		lines = append(lines, strings.Join(line, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
