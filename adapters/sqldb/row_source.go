package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Column types a RowSource knows, as PostgreSQL names them.
const (
	TypeText        = "text"
	TypeBigint      = "bigint"
	TypeTimestamptz = "timestamptz"
	TypeBytea       = "bytea"
	// TypeUUID is a uuid column on PostgreSQL, given as its text; SQLite stores the text.
	TypeUUID = "uuid"
)

// RowSource returns what an INSERT writes rows from, and its arguments numbered from first. types are the
// columns' types (TypeText, TypeBigint, TypeTimestamptz, TypeBytea), and each row has a value of each: a string,
// an int or int64, a time.Time, a []byte.
//
// On PostgreSQL it is SELECT * FROM unnest($1::text[], …), one array argument per column however many rows there
// are: the statement's text is then one, which pgx prepares once per connection and PostgreSQL plans once. A
// VALUES list has a text per number of rows, and was parsed and planned again on nearly every call (a
// prepared statement gets its generic plan after five calls of the same text); on the split's path that was
// about a quarter of the database's CPU. On SQLite, which prepares each statement anyway, it is VALUES (…),(…).
func (d Dialect) RowSource(first int, types []string, rows [][]any) (string, []any, error) {
	for i, r := range rows {
		if len(r) != len(types) {
			return "", nil, fmt.Errorf("row source: row %d has %d values, want %d", i, len(r), len(types))
		}
	}
	if !d.arrayRows {
		var b strings.Builder
		args := make([]any, 0, len(rows)*len(types))
		b.WriteString("VALUES ")
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			b.WriteString(d.Placeholders(first+i*len(types), len(types)))
			b.WriteByte(')')
			args = append(args, r...)
		}
		return b.String(), args, nil
	}
	var b strings.Builder
	args := make([]any, len(types))
	b.WriteString("SELECT * FROM unnest(")
	for c, typ := range types {
		column, err := arrayOf(typ, rows, c)
		if err != nil {
			return "", nil, fmt.Errorf("row source: column %d: %w", c+1, err)
		}
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+c) + "::" + typ + "[]")
		args[c] = column
	}
	b.WriteByte(')')
	return b.String(), args, nil
}

// arrayOf is column c of rows as the slice pgx sends as an array of typ.
func arrayOf(typ string, rows [][]any, c int) (any, error) {
	switch typ {
	case TypeText, TypeUUID:
		return typedColumn(rows, c, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
	case TypeBigint:
		return typedColumn(rows, c, func(v any) (int64, bool) {
			switch n := v.(type) {
			case int:
				return int64(n), true
			case int64:
				return n, true
			}
			return 0, false
		})
	case TypeTimestamptz:
		return typedColumn(rows, c, func(v any) (time.Time, bool) { t, ok := v.(time.Time); return t, ok })
	case TypeBytea:
		return typedColumn(rows, c, func(v any) ([]byte, bool) { b, ok := v.([]byte); return b, ok })
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

func typedColumn[T any](rows [][]any, c int, convert func(any) (T, bool)) ([]T, error) {
	column := make([]T, len(rows))
	for i, r := range rows {
		v, ok := convert(r[c])
		if !ok {
			return nil, fmt.Errorf("row %d holds a %T, not a %T", i, r[c], v)
		}
		column[i] = v
	}
	return column, nil
}

// InsertRows writes rows with head + RowSource + tail: one statement on PostgreSQL whatever the number of rows,
// as few as the bind-parameter limit allows on SQLite (ExecRows).
func (d Dialect) InsertRows(ctx context.Context, tx *sql.Tx, head, tail string, types []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if !d.arrayRows {
		return d.ExecRows(ctx, tx, head, tail, rows)
	}
	source, args, err := d.RowSource(1, types, rows)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, head+" "+source+" "+tail, args...)
	return err
}
