package main

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/adapters/sqldb"
)

// analyzeAfterImport gathers PostgreSQL's statistics of the database the import just filled. In production a
// journey reaches passes that autovacuum analysed long before (it does within a minute of a bulk load); the
// bench starts calls seconds after its import, and without statistics the planner reads every pass of the
// tenant for each grouped match (about 2,000 rows a call here, four times the statement's CPU), which is a state
// no journey sees.
func analyzeAfterImport(ctx context.Context, databaseURL string) error {
	db, err := sqldb.Open(ctx, databaseURL, sqldb.Config{})
	if err != nil {
		return fmt.Errorf("open database to analyse it: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("analyse the imported passes: %w", err)
	}
	return nil
}
