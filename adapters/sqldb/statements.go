package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// Statements runs a few hot queries as prepared statements on SQLite, each parsed once per connection instead of
// once per call. The SQLite driver (modernc.org/sqlite) keeps no statement cache: every call with arguments
// prepares its SQL anew, and a profile of bench/google spent a sixth of its CPU in SQLite's parser, the delivery
// stage's claims (a query of one part per tenant) the largest share. database/sql's Stmt keeps the statement
// prepared on each connection it has run on, and prepares it on a new one when it first runs there.
//
// On PostgreSQL it passes each query through: pgx already keeps a cache of prepared statements per connection,
// and Dialect.Planned's arguments choose pgx's exec mode per call, which a prepared Stmt would not keep.
type Statements struct {
	pool   *sql.DB
	enable bool

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxStatements bounds the statements kept: queries built per call (an IN list of any length) would otherwise add
// one each. Past it a query runs unprepared, as it would without Statements.
const maxStatements = 128

// NewStatements returns the statements of pool, one of db's pools (db.DB, the writer on SQLite, or db.Reader).
// They are closed with the pool's connections.
func NewStatements(db *DB, pool *sql.DB) *Statements {
	return &Statements{pool: pool, enable: db.Dialect.Name == SQLite.Name, stmts: map[string]*sql.Stmt{}}
}

// QueryContext is pool.QueryContext, through the query's prepared statement on SQLite.
func (s *Statements) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if stmt := s.prepared(ctx, query); stmt != nil {
		return stmt.QueryContext(ctx, args...)
	}
	return s.pool.QueryContext(ctx, query, args...)
}

// ExecContext is tx.ExecContext, through the query's prepared statement on SQLite once Prepare has prepared it; a
// query not prepared yet runs unprepared. It does not prepare the query itself: that takes a connection of the
// pool, and on SQLite tx holds the only writer connection.
func (s *Statements) ExecContext(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if stmt := s.kept(query); stmt != nil {
		return tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// QueryRowContext is tx.QueryRowContext, through the query's prepared statement on SQLite, as ExecContext.
func (s *Statements) QueryRowContext(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if stmt := s.kept(query); stmt != nil {
		return tx.StmtContext(ctx, stmt).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// kept is query's statement once prepared, or nil.
func (s *Statements) kept(query string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stmts[query]
}

// Prepare prepares query for ExecContext in a transaction, before the transaction takes the connection. An error
// is not returned: the query then runs unprepared, and reports it. In a transaction ctx carries it does nothing:
// on SQLite that transaction holds the only writer connection the statement could be prepared on.
func (s *Statements) Prepare(ctx context.Context, query string) {
	if _, inTx := TxFromContext(ctx); inTx {
		return
	}
	s.prepared(ctx, query)
}

// prepared returns the query's statement, preparing it on first use; nil on PostgreSQL, past maxStatements or
// when it could not be prepared.
func (s *Statements) prepared(ctx context.Context, query string) *sql.Stmt {
	if !s.enable {
		return nil
	}
	s.mu.Lock()
	stmt, ok := s.stmts[query]
	full := len(s.stmts) >= maxStatements
	s.mu.Unlock()
	if ok || full {
		return stmt
	}
	// Prepared without the lock: it may wait for the writer connection, which a transaction holds that may be
	// asking for another statement.
	stmt, err := s.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kept, ok := s.stmts[query]; ok {
		_ = stmt.Close()
		return kept
	}
	if len(s.stmts) >= maxStatements {
		_ = stmt.Close()
		return nil
	}
	s.stmts[query] = stmt
	return stmt
}
