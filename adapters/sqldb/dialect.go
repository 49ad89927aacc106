package sqldb

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/passpush/passpush/adapters/watermillsqlite"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is every difference between PostgreSQL and SQLite that the adapters need. Queries use $1 placeholders,
// ON CONFLICT and RETURNING, which both understand, so the rest of the SQL is shared.
type Dialect struct {
	Name string
	// MigrationsDir is the folder of migrations.FS for this dialect.
	MigrationsDir string
	goose         goose.Dialect
	// VisibleEvents is a condition on events.transaction_id that holds only for transactions older than every
	// running one, so reading in (transaction_id, position) order never skips a late commit.
	VisibleEvents string
	// TransactionIDAsInt turns the transaction_id column into an integer the driver can scan.
	TransactionIDAsInt string
	// TransactionIDFromText turns bind parameter 1, a transaction id in decimal text, into a value comparable
	// with the transaction_id column itself, so that a condition on the column can use its index.
	TransactionIDFromText string
	// nextTransactionID and oldestRunningTransactionID, when set, read the transaction id the next transaction
	// will get and the oldest one still running, so a reader can wait until what was in flight has ended.
	nextTransactionID          string
	oldestRunningTransactionID string
	// watermill-sql's schema for this database.
	WatermillSchema  wsql.SchemaAdapter
	WatermillOffsets wsql.OffsetsAdapter
	uniqueViolation  func(error) bool
	// placeholder is the n-th (1-based) bind parameter of a generated statement.
	placeholder func(n int) string
	// inList is a condition that a column is one of values, and its arguments, numbered from first.
	inList func(column string, first int, values []string) (string, []any)
	// maxInList bounds the values of one inList, 0 for none.
	maxInList int
	// planned marks a call's arguments as wanting a plan of its own.
	planned func(args []any) []any
	// rowLocks is whether a SELECT can lock the rows it reads (FOR UPDATE).
	rowLocks bool
	// arrayRows is whether RowSource sends rows as one array per column.
	arrayRows bool
}

var (
	// Postgres is PostgreSQL 13 or later.
	Postgres = Dialect{
		Name:                  "postgres",
		MigrationsDir:         "postgres",
		goose:                 goose.DialectPostgres,
		VisibleEvents:         "transaction_id < pg_snapshot_xmin(pg_current_snapshot())",
		TransactionIDAsInt:    "transaction_id::text::bigint",
		TransactionIDFromText: "$1::text::xid8",
		// Transaction ids and snapshots span the whole server: a transaction of another database holds xmin back.
		nextTransactionID:          "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
		oldestRunningTransactionID: "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
		WatermillSchema:            postgresSchema{wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: 50}},
		WatermillOffsets:           wsql.DefaultPostgreSQLOffsetsAdapter{},
		placeholder:                func(n int) string { return "$" + strconv.Itoa(n) },
		// One array parameter: a prepared IN ($2, …, $501) gets a generic plan that scans the tenant's whole
		// index range once the table is large.
		inList: func(column string, first int, values []string) (string, []any) {
			return column + " = ANY($" + strconv.Itoa(first) + ")", []any{values}
		},
		// The list is one array parameter; one statement per list costs one scan where chunks would cost several.
		maxInList: 0,
		uniqueViolation: func(err error) bool {
			var pgErr *pgconn.PgError
			return errors.As(err, &pgErr) && pgErr.Code == "23505"
		},
		// pgx's exec mode for one call: an unnamed statement, planned with the call's values.
		planned:   func(args []any) []any { return append([]any{pgx.QueryExecModeExec}, args...) },
		rowLocks:  true,
		arrayRows: true,
	}
	// SQLite is the embedded modernc.org/sqlite. It has a single writer, so every commit is visible in order.
	SQLite = Dialect{
		Name:                  "sqlite",
		MigrationsDir:         "sqlite",
		goose:                 goose.DialectSQLite3,
		VisibleEvents:         "1 = 1",
		TransactionIDAsInt:    "transaction_id",
		TransactionIDFromText: "CAST($1 AS INTEGER)",
		WatermillSchema:       watermillsqlite.SchemaAdapter{SubscribeBatchSize: 50},
		WatermillOffsets:      watermillsqlite.OffsetsAdapter{},
		// The driver's cost of binding $N names grows with the square of their count; ? binds in order.
		placeholder: func(int) string { return "?" },
		inList: func(column string, _ int, values []string) (string, []any) {
			args := make([]any, len(values))
			for i, v := range values {
				args[i] = v
			}
			return column + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(values)), ",") + ")", args
		},
		// Each value is a parameter: far below the limit of 32766 parameters per statement.
		maxInList: 500,
		uniqueViolation: func(err error) bool {
			var sqliteErr *sqlite.Error
			if !errors.As(err, &sqliteErr) {
				return false
			}
			code := sqliteErr.Code()
			return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		},
		planned: func(args []any) []any { return args },
	}
)

// Placeholders returns count bind parameters numbered from first, comma-separated, for statements generated
// with many rows; hand-written statements use $1 style, which both dialects read.
func (d Dialect) Placeholders(first, count int) string {
	var b strings.Builder
	for i := range count {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d.placeholder(first + i))
	}
	return b.String()
}

// InList returns the condition that column is one of values, with its arguments numbered from first.
func (d Dialect) InList(column string, first int, values []string) (string, []any) {
	return d.inList(column, first, values)
}

// Planned returns a query's arguments so that PostgreSQL plans the call with its values instead of reusing a
// cached generic plan. pgx prepares every statement, and PostgreSQL gives a prepared statement a generic plan
// after five calls; one made while a table was nearly empty (a new database filling up during an import) is a
// sequential scan that stays cached until the next ANALYZE, and each call then scans the growing table: an
// import slowed from 10,000 to 1,500 passes/s that way. Lookups by lists of keys use it; their planning is cheap.
func (d Dialect) Planned(args ...any) []any { return d.planned(args) }

// LockRows ends a SELECT that picks rows a statement will write: it locks them in the SELECT's ORDER BY order, so
// statements that all lock in one order cannot deadlock, and with skipLocked it passes over rows another
// transaction holds instead of waiting. SQLite has a single writer: it needs neither and has neither.
func (d Dialect) LockRows(skipLocked bool) string {
	switch {
	case !d.rowLocks:
		return ""
	case skipLocked:
		return " FOR UPDATE SKIP LOCKED"
	default:
		return " FOR UPDATE"
	}
}

// IsUniqueViolation reports whether err is a unique-constraint violation, which the event store turns into a
// version conflict.
func (d Dialect) IsUniqueViolation(err error) bool { return d.uniqueViolation(err) }

// postgresSchema is watermill-sql's PostgreSQL schema with READ COMMITTED subscriptions. Handlers write in the
// subscriber's transaction, and a handler that retries an event-stream append after a version conflict must
// see the rows that caused it; under the default REPEATABLE READ it never would. The message query is a single
// statement with its own snapshot, so its transaction-id cut-off holds at either level.
type postgresSchema struct {
	wsql.DefaultPostgreSQLSchema
}

func (postgresSchema) SubscribeIsolationLevel() sql.IsolationLevel { return sql.LevelReadCommitted }

// SelectQuery is watermill-sql's, with the position condition written as one row comparison. Its OR of two
// conditions makes PostgreSQL scan and sort the whole backlog (238 ms a query with 90,000 messages waiting);
// the row comparison walks the primary key from the last acked message (0.4 ms).
func (s postgresSchema) SelectQuery(topic string, consumerGroup string, offsetsAdapter wsql.OffsetsAdapter) wsql.Query {
	next := offsetsAdapter.NextOffsetQuery(topic, consumerGroup)
	return wsql.Query{
		Query: `
			WITH last_processed AS (` + next.Query + `)
			SELECT "offset", transaction_id, uuid, payload, metadata FROM ` + s.MessagesTable(topic) + `
			WHERE (transaction_id, "offset") > (
				(SELECT last_processed_transaction_id FROM last_processed),
				(SELECT offset_acked FROM last_processed))
			  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
			ORDER BY transaction_id ASC, "offset" ASC
			LIMIT ` + strconv.Itoa(s.SubscribeBatchSize),
		Args: next.Args,
	}
}
