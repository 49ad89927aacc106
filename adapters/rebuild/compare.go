package rebuild

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/passpush/passpush/app/rebuild"
)

// shownKeys is how many keys of each kind of difference a dry run reports.
const shownKeys = 5

// compare reports how the live table of t differs from fresh, a table built like it, in tx.
func (r *Rebuilder) compare(ctx context.Context, tx *sql.Tx, t Target, fresh string) (rebuild.Difference, error) {
	d := rebuild.Difference{Table: t.Table}
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+t.Table+` WHERE 1 = 0`)
	if err != nil {
		return d, fmt.Errorf("read the columns of %s: %w", t.Table, err)
	}
	columns, err := rows.Columns()
	rows.Close()
	if err != nil {
		return d, fmt.Errorf("read the columns of %s: %w", t.Table, err)
	}
	var on, same, keys []string
	for _, k := range t.Key {
		on = append(on, `f.`+k+` = l.`+k)
		keys = append(keys, `f.`+k)
	}
	for _, c := range columns {
		if !slices.Contains(t.Ignore, c) && !slices.Contains(t.Key, c) {
			same = append(same, r.schema.same(`f.`+c, `l.`+c))
		}
	}
	if len(same) == 0 {
		same = []string{"1 = 1"}
	}
	// Missing rows are those of the fresh table with no live row; extra rows the other way round.
	missing := `FROM ` + fresh + ` f WHERE NOT EXISTS (SELECT 1 FROM ` + t.Table + ` l WHERE ` + strings.Join(on, " AND ") + `)`
	extra := `FROM ` + t.Table + ` f WHERE NOT EXISTS (SELECT 1 FROM ` + fresh + ` l WHERE ` + strings.Join(on, " AND ") + `)`
	different := `FROM ` + fresh + ` f JOIN ` + t.Table + ` l ON ` + strings.Join(on, " AND ") + ` WHERE NOT (` + strings.Join(same, " AND ") + `)`
	for _, kind := range []struct {
		from  string
		count *int64
		keys  *[]string
	}{{missing, &d.Missing, &d.MissingKeys}, {extra, &d.Extra, &d.ExtraKeys}, {different, &d.Different, &d.DifferentKeys}} {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) `+kind.from).Scan(kind.count); err != nil {
			return d, fmt.Errorf("compare %s with %s: %w", t.Table, fresh, err)
		}
		if *kind.count == 0 {
			continue
		}
		if *kind.keys, err = r.keys(ctx, tx, `SELECT `+strings.Join(keys, ", ")+` `+kind.from+` ORDER BY `+strings.Join(keys, ", ")+
			fmt.Sprintf(` LIMIT %d`, shownKeys), len(keys)); err != nil {
			return d, fmt.Errorf("compare %s with %s: %w", t.Table, fresh, err)
		}
	}
	return d, nil
}

func (r *Rebuilder) keys(ctx context.Context, tx *sql.Tx, q string, n int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		values := make([]string, n)
		dest := make([]any, n)
		for i := range values {
			dest[i] = &values[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		keys = append(keys, strings.Join(values, "/"))
	}
	return keys, rows.Err()
}
