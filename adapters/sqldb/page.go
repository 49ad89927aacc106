package sqldb

import (
	"fmt"
	"strings"
)

// Page builds the WHERE … ORDER BY … LIMIT of a listing: the fixed conditions (already numbered $1…$n for
// args), then column = value for each filter whose value is not empty, then the limit.
type Page struct {
	Where   []string
	Args    []any
	Filters [][2]string // column, value
	OrderBy string
	Limit   int
}

// SQL returns the clause and its arguments.
func (p Page) SQL() (string, []any) {
	where, args := append([]string(nil), p.Where...), append([]any(nil), p.Args...)
	for _, f := range p.Filters {
		if f[1] != "" {
			args = append(args, f[1])
			where = append(where, fmt.Sprintf("%s = $%d", f[0], len(args)))
		}
	}
	args = append(args, p.Limit)
	return "WHERE " + strings.Join(where, " AND ") + fmt.Sprintf(" ORDER BY %s LIMIT $%d", p.OrderBy, len(args)), args
}
