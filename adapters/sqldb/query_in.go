package sqldb

import (
	"context"
	"database/sql"
	"slices"
)

// maxInList bounds the keys of one lookup statement: far below SQLite's bind-parameter limit, where each key is
// a parameter, and a list PostgreSQL answers with index lookups.
const maxInList = 500

// QueryIn runs a lookup by a list of keys: head + the condition that column is one of the keys + tail, once per
// chunk of at most maxInList keys, each planned with its values (Planned). args are head's own parameters, $1 to
// $n; the keys' come after them. scan is called for every row. Reads run where ReaderFor says.
func QueryIn(ctx context.Context, db *DB, head, column, tail string, args []any, keys []string, scan func(rows *sql.Rows) error) error {
	for start := 0; start < len(keys); start += maxInList {
		in, inArgs := db.Dialect.InList(column, len(args)+1, keys[start:min(start+maxInList, len(keys))])
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
