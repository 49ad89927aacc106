package messaging_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/sqldb"
)

// newWriterHarness subscribes one group whose handler writes each event's id to the table effects, after
// before(ctx, tx, event, try) has run in the same transaction.
func newWriterHarness(t *testing.T, r *recorder, before func(ctx context.Context, tx *sql.Tx, e *eventstore.Event, try int) error) harness {
	t.Helper()
	var h harness
	h = newHarness(t, map[string]projection{
		"writer": func(ctx context.Context, e *eventstore.Event) error {
			try := r.try(e)
			return sqldb.InTx(ctx, h.db, func(ctx context.Context, tx *sql.Tx) error {
				if err := before(ctx, tx, e, try); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID); err != nil {
					return err
				}
				r.finish(e)
				return nil
			})
		},
	})
	if _, err := h.db.ExecContext(context.Background(), `CREATE TABLE effects (event_id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return h
}

// assertEffectsOnce checks that every event's effect is stored exactly once, and that the group is not stopped.
func (h harness) assertEffectsOnce(t *testing.T, events []eventstore.Event) {
	t.Helper()
	for _, e := range events {
		if n := contracttest.Count(t, h.db, `SELECT count(*) FROM effects WHERE event_id = $1`, e.ID); n != 1 {
			t.Errorf("event %s has %d effects, want 1", e.Type, n)
		}
	}
	if s, ok := h.stopped("writer"); ok {
		t.Errorf("the group is stopped on %+v; a transient failure must only be retried", s)
	}
	h.assertNothingPoisoned(t)
}

// TestBus_aHandlerWhoseConnectionDiesResumesOnAFreshOne: the connection of the subscriber's transaction is
// terminated in the middle of a handler. The transaction is abandoned at once and the messages are read again
// on a fresh connection, instead of being retried in the dead transaction until the ack deadline.
func TestBus_aHandlerWhoseConnectionDiesResumesOnAFreshOne(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	var terminated time.Time
	h := newWriterHarness(t, r, func(ctx context.Context, tx *sql.Tx, e *eventstore.Event, try int) error {
		if e.Type != "KillsItsConnection" || try > 1 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM pg_catalog.pg_tables WHERE false`); err != nil {
			return err
		}
		terminated = time.Now()
		_, err := tx.ExecContext(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
		return err
	})
	if h.db.Dialect.Name != "postgres" {
		t.Skip("terminating a connection is a PostgreSQL fault")
	}
	h.start(t)
	stored := h.append(t, context.Background(), "Before", "KillsItsConnection", "After")
	r.waitFinished(t, stored[2].ID)
	if took := time.Since(terminated); took > 2*time.Second {
		t.Errorf("the events after the dead connection were handled %s after it died, want within 2s", took)
	}
	if got, want := r.finishedEvents(), []string{stored[0].ID, stored[1].ID, stored[2].ID}; !slices.Equal(got, want) {
		t.Errorf("finished %v, want %v", got, want)
	}
	contracttest.Eventually(t, func() bool {
		return contracttest.Count(t, h.db, `SELECT count(*) FROM effects`) == len(stored)
	}, "every effect is committed")
	h.assertEffectsOnce(t, stored)
}

// TestBus_aLockTimeoutIsRetriedUntilTheLockIsFree: a handler's table is locked for longer than the handler's
// lock_timeout, many times over. The handler fails with SQLSTATE 55P03 on every try until the lock is gone, and
// then takes every event once: nothing is parked on the poison topic and the group is never stopped.
func TestBus_aLockTimeoutIsRetriedUntilTheLockIsFree(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	h := newWriterHarness(t, r, func(ctx context.Context, tx *sql.Tx, e *eventstore.Event, try int) error {
		_, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '20ms'`)
		return err
	})
	if h.db.Dialect.Name != "postgres" {
		t.Skip("lock_timeout is a PostgreSQL setting")
	}
	ctx := context.Background()
	// Appended before the lock is taken: LOCK TABLE gives the locker a transaction id, and subscribers see no
	// message of a transaction younger than a running one.
	stored := h.append(t, ctx, "First", "Second", "Third")
	locker, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.ExecContext(ctx, `LOCK TABLE effects IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	contracttest.Eventually(t, func() bool { return r.triesOf(stored[0].ID) >= 5 }, "the handler is tried while the table is locked")
	if err := locker.Commit(); err != nil {
		t.Fatal(err)
	}
	r.waitFinished(t, stored[2].ID)
	contracttest.Eventually(t, func() bool {
		return contracttest.Count(t, h.db, `SELECT count(*) FROM effects`) == len(stored)
	}, "every effect is committed")
	h.assertEffectsOnce(t, stored)
}
