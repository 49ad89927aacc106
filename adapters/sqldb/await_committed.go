package sqldb

import (
	"context"
	"fmt"
	"time"
)

// AwaitCommitted returns once every transaction that was running when it was called has ended, so that a read
// of the events visible in transaction order (Dialect.VisibleEvents) sees all that had committed by then. A
// reader that pages through the events once, as a rebuild does, would otherwise stop short of the events of
// transactions newer than one still in flight, on this database or any other of the server. Call it before the
// caller's transaction writes: a transaction of its own that holds an id would wait for itself. SQLite has one
// writer and returns at once.
func (db *DB) AwaitCommitted(ctx context.Context) error {
	if db.Dialect.nextTransactionID == "" {
		return nil
	}
	reader := ReaderFor(ctx, db)
	var next int64
	if err := reader.QueryRowContext(ctx, db.Dialect.nextTransactionID).Scan(&next); err != nil {
		return fmt.Errorf("read the next transaction id: %w", err)
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var oldest int64
		if err := reader.QueryRowContext(ctx, db.Dialect.oldestRunningTransactionID).Scan(&oldest); err != nil {
			return fmt.Errorf("read the oldest running transaction id: %w", err)
		}
		if oldest >= next {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for transactions older than %d to end: %w", next, ctx.Err())
		case <-time.After(wait):
		}
	}
}
