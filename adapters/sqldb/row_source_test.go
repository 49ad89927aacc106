package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
)

var rowTypes = []string{sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeTimestamptz}

// TestInsertRows_writesEveryRowInOrder: more rows than SQLite binds in one statement are all written, in their
// order (the serial column follows it), each value of each type as given, and the tail's ON CONFLICT applies.
func TestInsertRows_writesEveryRowInOrder(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE written (n INTEGER NOT NULL, name TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, at TIMESTAMP NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if db.Dialect.Name == "postgres" {
		if _, err := db.ExecContext(ctx, `ALTER TABLE written ALTER COLUMN at TYPE TIMESTAMPTZ`); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 3, 16, 45, 1, 123456000, time.UTC)
	rows := make([][]any, 12000)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("row-%05d", i), i, at.Add(time.Duration(i) * time.Second)}
	}
	rows = append(rows, []any{"row-00001", 99, at}) // a duplicate name, which ON CONFLICT drops
	err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
		return db.Dialect.InsertRows(ctx, tx, `INSERT INTO written (name, version, at, n)`, `ON CONFLICT (name) DO NOTHING`,
			append(slices.Clone(rowTypes), sqldb.TypeBigint), numbered(rows))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.QueryContext(ctx, `SELECT name, version, at, n FROM written ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for got.Next() {
		var name string
		var version, n int
		var when time.Time
		if err := got.Scan(&name, &version, &when, &n); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("row-%05d", i); name != want || version != i || n != i || !when.Equal(at.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("row %d is %s, %d, %s, %d; want %s, %d, %s, %d", i, name, version, when, n, want, i, at.Add(time.Duration(i)*time.Second), i)
		}
		i++
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	if i != 12000 {
		t.Errorf("%d rows written, want 12000", i)
	}
}

// numbered appends each row's index, so that the test reads the rows back in the order they were given.
func numbered(rows [][]any) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = append(append([]any{}, r...), i)
	}
	return out
}

// TestRowSource_isOneStatementPerShapeOnPostgres: on PostgreSQL the text does not depend on the number of rows,
// which is what lets pgx prepare it once; a value of the wrong type is an error, not a silent cast.
func TestRowSource_isOneStatementPerShapeOnPostgres(t *testing.T) {
	t.Parallel()
	at := time.Now()
	one, _, err := sqldb.Postgres.RowSource(1, rowTypes, [][]any{{"a", 1, at}})
	if err != nil {
		t.Fatal(err)
	}
	three, args, err := sqldb.Postgres.RowSource(1, rowTypes, [][]any{{"a", 1, at}, {"b", int64(2), at}, {"c", 3, at}})
	if err != nil {
		t.Fatal(err)
	}
	if one != three || len(args) != 3 {
		t.Errorf("one row: %q; three rows: %q with %d arguments, want the same text and one argument per column", one, three, len(args))
	}
	if _, _, err := sqldb.Postgres.RowSource(1, rowTypes, [][]any{{"a", "1", at}}); err == nil {
		t.Error("a string in a bigint column: no error")
	}
	if _, _, err := sqldb.SQLite.RowSource(1, rowTypes, [][]any{{"a", 1}}); err == nil {
		t.Error("a row one value short: no error")
	}
}
