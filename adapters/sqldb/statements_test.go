package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
)

// Statements runs queries, inside and outside a transaction, with the results the plain calls give, however
// many times a statement is reused and however many distinct queries there are (past the statements it keeps,
// queries run unprepared).
func TestStatements_runTheirQueries(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	stmts := sqldb.NewStatements(db, db.DB)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const add = `INSERT INTO things (id) VALUES ($1)`
	var want []string
	for i := range 140 { // past maxStatements (128)
		id := fmt.Sprintf("t%03d", i)
		stmts.Prepare(ctx, add)
		err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
			_, err := stmts.ExecContext(ctx, tx, add, id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
		// A query of its own each time: more than the statements kept.
		rows, err := stmts.QueryContext(ctx, fmt.Sprintf(`SELECT id, %d FROM things WHERE id <= $1 ORDER BY id`, i), id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			if n != i {
				t.Fatalf("query %d answered %d", i, n)
			}
			got = append(got, id)
		}
		if err := errorsOf(rows); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after %d inserts: %v", i+1, got)
		}
	}
	// A statement whose transaction rolls back leaves nothing.
	err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := stmts.ExecContext(ctx, tx, add, "rolled back"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx = %v", err)
	}
	if got := things(t, db); !slices.Equal(got, want) {
		t.Errorf("after the rollback: %d things", len(got))
	}
}

var errRollback = errors.New("roll back")

func errorsOf(rows *sql.Rows) error {
	defer rows.Close()
	return rows.Err()
}
