package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

type txKey struct{}

// WithTx returns a context that carries tx, so InTx joins it.
func WithTx(ctx context.Context, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// InTx runs fn in the transaction the context already carries, or in a new one that it commits.
//
// A Watermill SQL subscriber hands its handler the transaction that will also store the consumer's offset. Joining
// it makes a handler's writes and the message's ack commit together (exactly-once effect), and on SQLite, which
// has one connection, it is the only way a handler can write at all.
func InTx(ctx context.Context, db *DB, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return fn(ctx, tx)
	}
	if tx, ok := wsql.TxFromContext(ctx); ok {
		return inSavepoint(ctx, tx, fn)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		// A panic in fn must not leave the transaction, and on SQLite the only connection, open.
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(WithTx(ctx, tx), tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InSavepoint is InTx, except that when it joins a transaction it runs fn in a savepoint, so fn's failure (a
// unique violation, which aborts a PostgreSQL transaction) leaves the outer transaction usable.
func InSavepoint(ctx context.Context, db *DB, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if tx, ok := TxFromContext(ctx); ok {
		return inSavepoint(ctx, tx, fn)
	}
	return InTx(ctx, db, fn)
}

// inSavepoint runs fn inside the subscriber's transaction. A handler that fails is retried, or its message is
// nacked and resent, in that same transaction: the savepoint undoes the failed try's writes, so a retry does not
// apply them twice.
func inSavepoint(ctx context.Context, tx *sql.Tx, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT handler"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	rollback := func() error {
		_, err := tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT handler")
		return err
	}
	done := false
	defer func() {
		// A panic in fn (which Recoverer turns into an error and Retry retries) must not keep the try's writes.
		if !done {
			_ = rollback()
		}
	}()
	if err := fn(WithTx(ctx, tx), tx); err != nil {
		done = true
		if rbErr := rollback(); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rbErr))
		}
		return err
	}
	done = true
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT handler"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// TxFromContext returns the transaction InTx would join, if any.
func TxFromContext(ctx context.Context) (*sql.Tx, bool) {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx, true
	}
	return wsql.TxFromContext(ctx)
}

// Querier is what reads run on: the context's transaction, so a handler reads its own writes and, on SQLite's
// single writer connection, does not wait for itself; else the reader pool. Reads need no savepoint: they cannot
// leave partial effects.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ReaderFor returns the Querier for ctx.
func ReaderFor(ctx context.Context, db *DB) Querier {
	if tx, ok := TxFromContext(ctx); ok {
		return tx
	}
	return db.Reader
}
