package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxBindParameters keeps a generated statement below SQLite's default limit of 32766 bind parameters, and so
// below PostgreSQL's 65535 too.
const maxBindParameters = 30000

// Values returns the VALUES list of a statement that writes rows rows of columns values each, numbered from 1:
// "(?,?),(?,?)" on SQLite, "($1,$2),($3,$4)" on PostgreSQL.
func (d Dialect) Values(rows, columns int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		b.WriteString(d.Placeholders(r*columns+1, columns))
		b.WriteByte(')')
	}
	return b.String()
}

// ExecRows writes rows with head + VALUES (…),(…) + tail, in as few statements as the bind-parameter limit
// allows. Every row has the same number of values. A projection that writes a batch of events this way makes one
// round trip where one statement per event would make hundreds.
func (d Dialect) ExecRows(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	columns := len(rows[0])
	chunk := max(1, maxBindParameters/columns)
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		args := make([]any, 0, len(part)*columns)
		for _, r := range part {
			if len(r) != columns {
				return fmt.Errorf("exec rows: a row has %d values, want %d", len(r), columns)
			}
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, head+" VALUES "+d.Values(len(part), columns)+" "+tail, args...); err != nil {
			return err
		}
	}
	return nil
}
