package sqldb

import (
	"context"
	"database/sql"
	"slices"
)

// QueryIn runs a lookup by a list of keys: head + the condition that column is one of the keys + tail, in as few
// statements as the dialect's parameter limit allows (one on PostgreSQL), each planned with its values
// (Planned). args are head's own parameters, $1 to $n; the keys' come after them. scan is called for every row.
// Reads run where ReaderFor says.
func QueryIn(ctx context.Context, db *DB, head, column, tail string, args []any, keys []string, scan func(rows *sql.Rows) error) error {
	chunk := db.Dialect.maxInList
	if chunk == 0 {
		chunk = max(1, len(keys))
	}
	for start := 0; start < len(keys); start += chunk {
		in, inArgs := db.Dialect.InList(column, len(args)+1, keys[start:min(start+chunk, len(keys))])
		err := func() error {
			rows, err := ReaderFor(ctx, db).QueryContext(ctx, head+in+tail, db.Dialect.Planned(append(slices.Clone(args), inArgs...)...)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
