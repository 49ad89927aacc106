package rebuild

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/passpush/passpush/adapters/sqldb"
)

// copyOf is a new table shaped like a live one, and what must be renamed when it takes the live one's place.
type copyOf struct {
	live, table string
	// indexes are created on table once it is filled (PostgreSQL), or before (SQLite).
	indexes []string
	// renames are run after the swap, so that constraints, indexes and sequences keep the live names.
	renames []string
	// swapped is set once the copy has taken the live table's place.
	swapped bool
}

// schema is how one database copies a table and swaps the copy in: every difference between PostgreSQL and
// SQLite that a rebuild meets is here.
type schema interface {
	// create makes c.table, empty, with the unique keys the projections' upserts need. It drops what a rebuild
	// that died left under that name.
	create(ctx context.Context, db *sqldb.DB, live, table, suffix string) (*copyOf, error)
	// indexAfterFill reports whether the secondary indexes are built after the bulk fill.
	indexAfterFill() bool
	// persist makes c.table crash-safe once the bulk fill is done, if create made it otherwise.
	persist(ctx context.Context, db *sqldb.DB, c *copyOf) error
	// swap puts c.table in c.live's place, in tx, which already holds the consumer group.
	swap(ctx context.Context, tx *sql.Tx, c *copyOf) error
	// retire drops what swap left behind, after the swap's commit, in short transactions.
	retire(ctx context.Context, db *sqldb.DB, c *copyOf) error
	// drop drops a table in short transactions.
	drop(ctx context.Context, db *sqldb.DB, table string) error
	// same is SQL that holds when two values are equal, NULLs included.
	same(a, b string) string
}

func schemaOf(d sqldb.Dialect) schema {
	if d.Name == sqldb.Postgres.Name {
		return postgresSchema{}
	}
	return sqliteSchema{}
}

type postgresSchema struct{}

var pgIndexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (USING .*)$`)

func (postgresSchema) create(ctx context.Context, db *sqldb.DB, live, table, suffix string) (*copyOf, error) {
	c := &copyOf{live: live, table: table}
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
		return nil, fmt.Errorf("drop %s: %w", table, err)
	}
	// No indexes: those are built after the fill, which is several times faster than keeping them up to date.
	// Unlogged: the fill writes each row several times, once per event of its pass, and each version would go to
	// the write-ahead log; persist writes the table there once, as it ends up, and leaves the dead versions
	// behind. A crash empties an unlogged table, but a crash also ends the rebuild, which drops it.
	if _, err := db.ExecContext(ctx, `CREATE UNLOGGED TABLE `+table+` (LIKE `+live+
		` INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE)`); err != nil {
		return nil, fmt.Errorf("create %s like %s: %w", table, live, err)
	}
	// LIKE leaves out the table's storage parameters: the delivery queue's fill factor (migrations 00020 and
	// 00029, room for the leases' HOT updates) and its autovacuum thresholds would be gone after a rebuild. They
	// are copied.
	var options string
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(array_to_string(reloptions, ', '), '') FROM pg_class WHERE oid = $1::regclass`,
		live).Scan(&options); err != nil {
		return nil, fmt.Errorf("read the storage parameters of %s: %w", live, err)
	}
	if options != "" {
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` SET (`+options+`)`); err != nil {
			return nil, fmt.Errorf("give %s the storage parameters of %s: %w", table, live, err)
		}
	}
	// A serial column's default still draws from the live table's sequence, which goes when the live table is
	// dropped: the copy gets a sequence of its own.
	rows, err := db.QueryContext(ctx, `
		SELECT a.attname, pg_get_serial_sequence($1, a.attname) FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND pg_get_serial_sequence($1, a.attname) IS NOT NULL`, live)
	if err != nil {
		return nil, fmt.Errorf("read the sequences of %s: %w", live, err)
	}
	type serial struct{ column, sequence string }
	var serials []serial
	for rows.Next() {
		var s serial
		if err := rows.Scan(&s.column, &s.sequence); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the sequences of %s: %w", live, err)
		}
		serials = append(serials, s)
	}
	rows.Close()
	for _, s := range serials {
		seq := table + "_" + s.column + "_seq"
		for _, q := range []string{
			`CREATE SEQUENCE ` + seq + ` AS bigint OWNED BY ` + table + `.` + s.column,
			`ALTER TABLE ` + table + ` ALTER COLUMN ` + s.column + ` SET DEFAULT nextval('` + seq + `')`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("give %s a sequence: %w", table, err)
			}
		}
		c.renames = append(c.renames, `ALTER SEQUENCE `+seq+` RENAME TO `+bare(s.sequence))
	}
	// Primary and unique keys come first: the projections' ON CONFLICT needs them. A key's definition leaves out
	// its index's storage parameters (the audit log's fill factor), which are added back.
	constraints, err := pairs(ctx, db, `SELECT k.conname, pg_get_constraintdef(k.oid) || COALESCE(' WITH (' || array_to_string(i.reloptions, ', ') || ')', '')
		FROM pg_constraint k LEFT JOIN pg_class i ON i.oid = k.conindid
		WHERE k.conrelid = $1::regclass AND k.contype IN ('p', 'u') ORDER BY k.conname`, live)
	if err != nil {
		return nil, fmt.Errorf("read the keys of %s: %w", live, err)
	}
	for _, k := range constraints {
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` ADD CONSTRAINT `+k[0]+suffix+` `+k[1]); err != nil {
			return nil, fmt.Errorf("add key %s to %s: %w", k[0], table, err)
		}
		c.renames = append(c.renames, `ALTER TABLE `+live+` RENAME CONSTRAINT `+k[0]+suffix+` TO `+k[0])
	}
	indexes, err := pairs(ctx, db, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = $1
		  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass) ORDER BY indexname`, live)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", live, err)
	}
	for _, ix := range indexes {
		m := pgIndexDef.FindStringSubmatch(ix[1])
		if m == nil {
			return nil, fmt.Errorf("index %s of %s: cannot read its definition %q", ix[0], live, ix[1])
		}
		create := `CREATE ` + m[1] + `INDEX ` + ix[0] + suffix + ` ON ` + table + ` ` + m[4]
		c.renames = append(c.renames, `ALTER INDEX `+ix[0]+suffix+` RENAME TO `+ix[0])
		if m[1] == "" {
			c.indexes = append(c.indexes, create)
			continue
		}
		// A unique index that is no constraint (a partial one: the audit log's event ids) is a key the
		// projections' ON CONFLICT names too: it comes first, as the constraints do.
		if _, err := db.ExecContext(ctx, create); err != nil {
			return nil, fmt.Errorf("add key %s to %s: %w", ix[0], table, err)
		}
	}
	return c, nil
}

func (postgresSchema) indexAfterFill() bool { return true }

// persist rewrites the table into the write-ahead log before the indexes are built, so that they are built once,
// logged, on the rewritten table. Its sequences are logged already.
func (postgresSchema) persist(ctx context.Context, db *sqldb.DB, c *copyOf) error {
	if _, err := db.ExecContext(ctx, `ALTER TABLE `+c.table+` SET LOGGED`); err != nil {
		return fmt.Errorf("log %s: %w", c.table, err)
	}
	return nil
}

func (postgresSchema) swap(ctx context.Context, tx *sql.Tx, c *copyOf) error {
	// The live table's readers (execute's pass lookup) wait behind this lock: it is taken last, and swap's
	// caller bounds the wait with lock_timeout and tries again.
	statements := append([]string{
		`LOCK TABLE ` + c.live + ` IN ACCESS EXCLUSIVE MODE`,
		`DROP TABLE ` + c.live,
		`ALTER TABLE ` + c.table + ` RENAME TO ` + c.live,
	}, c.renames...)
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("swap %s in for %s: %s: %w", c.table, c.live, q, err)
		}
	}
	return nil
}

func (postgresSchema) retire(context.Context, *sqldb.DB, *copyOf) error { return nil }

func (postgresSchema) drop(ctx context.Context, db *sqldb.DB, table string) error {
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
		return fmt.Errorf("drop %s: %w", table, err)
	}
	return nil
}

func (postgresSchema) same(a, b string) string { return a + ` IS NOT DISTINCT FROM ` + b }

type sqliteSchema struct{}

var (
	sqliteTableDef = regexp.MustCompile(`(?is)^CREATE TABLE\s+("?)\w+("?)`)
	sqliteIndexDef = regexp.MustCompile(`(?is)^CREATE (UNIQUE )?INDEX\s+"?(\w+)"?\s+ON\s+"?\w+"?\s*(\(.*)$`)
)

// sqliteIndexMark ends the name of an index a rebuild made. SQLite cannot rename an index, so a swapped-in
// table keeps its indexes' names: a rebuild names them by adding the mark, the next one by taking it away.
const sqliteIndexMark = "_rb"

func (s sqliteSchema) create(ctx context.Context, db *sqldb.DB, live, table, suffix string) (*copyOf, error) {
	c := &copyOf{live: live, table: table}
	if err := s.drop(ctx, db, table); err != nil {
		return nil, err
	}
	var def string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1`, live).Scan(&def); err != nil {
		return nil, fmt.Errorf("read the definition of %s: %w", live, err)
	}
	if _, err := db.ExecContext(ctx, sqliteTableDef.ReplaceAllString(def, `CREATE TABLE "`+table+`"`)); err != nil {
		return nil, fmt.Errorf("create %s like %s: %w", table, live, err)
	}
	indexes, err := pairs(ctx, db, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL ORDER BY name`, live)
	if err != nil {
		return nil, fmt.Errorf("read the indexes of %s: %w", live, err)
	}
	for _, ix := range indexes {
		m := sqliteIndexDef.FindStringSubmatch(ix[1])
		if m == nil {
			return nil, fmt.Errorf("index %s of %s: cannot read its definition %q", ix[0], live, ix[1])
		}
		name := ix[0] + sqliteIndexMark
		if strings.HasSuffix(ix[0], sqliteIndexMark) {
			name = strings.TrimSuffix(ix[0], sqliteIndexMark)
		}
		if suffix != rebuildSuffix {
			name = ix[0] + suffix
		}
		c.indexes = append(c.indexes, `CREATE `+m[1]+`INDEX "`+name+`" ON "`+table+`" `+m[3])
	}
	return c, nil
}

// indexAfterFill is false on SQLite: building an index on a filled table holds the single writer for as long
// as it takes, seconds on a large table, and serve's writes wait that long. Kept up to date in each batch,
// indexes cost the fill more, in transactions as short as the batches.
func (sqliteSchema) indexAfterFill() bool { return false }

// persist has nothing to do: SQLite has no unlogged tables.
func (sqliteSchema) persist(context.Context, *sqldb.DB, *copyOf) error { return nil }

func (sqliteSchema) swap(ctx context.Context, tx *sql.Tx, c *copyOf) error {
	// The old table is only renamed: dropping a large table at once would hold the writer too long.
	for _, q := range []string{
		`ALTER TABLE "` + c.live + `" RENAME TO "` + retired(c.live) + `"`,
		`ALTER TABLE "` + c.table + `" RENAME TO "` + c.live + `"`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("swap %s in for %s: %s: %w", c.table, c.live, q, err)
		}
	}
	return nil
}

func (s sqliteSchema) retire(ctx context.Context, db *sqldb.DB, c *copyOf) error {
	return s.drop(ctx, db, retired(c.live))
}

// sqliteDropBatch is how many rows one transaction of drop deletes: a few milliseconds of the writer.
const sqliteDropBatch = 5000

func (sqliteSchema) drop(ctx context.Context, db *sqldb.DB, table string) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&n); err != nil {
		return fmt.Errorf("look for %s: %w", table, err)
	}
	if n == 0 {
		return nil
	}
	for {
		res, err := db.ExecContext(ctx, `DELETE FROM "`+table+`" WHERE rowid IN (SELECT rowid FROM "`+table+`" LIMIT $1)`, sqliteDropBatch)
		if err != nil {
			return fmt.Errorf("empty %s: %w", table, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			break
		}
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE "`+table+`"`); err != nil {
		return fmt.Errorf("drop %s: %w", table, err)
	}
	return nil
}

func (sqliteSchema) same(a, b string) string { return a + ` IS ` + b }

func retired(live string) string { return live + "_retired" }

// bare is a name without its schema.
func bare(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func pairs(ctx context.Context, db *sqldb.DB, q string, args ...any) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
