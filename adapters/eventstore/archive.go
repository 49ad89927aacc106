package eventstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/passpush/passpush/adapters/sqldb"
)

// ArchivablePage returns up to limit events after the position after, in global order, that may leave the store:
// events of a stream whose snapshot covers them (so the stream still loads, from its snapshot), handled by every
// consumer group (their position is before handled), and that no pending delivery refers to. Streams without a
// snapshot (tenants', lifecycle calls', skips') are never archivable: writers read their last version from the
// events themselves, and a lifecycle call's stream is its dedupe key.
func (s *Store) ArchivablePage(ctx context.Context, handled, after Position, limit int) ([]Event, error) {
	d := s.db.Dialect
	position := `(e.transaction_id, e.position) %s ($%d, $%d)`
	args := []any{handled.TransactionID, handled.Sequence, after.TransactionID, after.Sequence, limit}
	if d.Name == sqldb.Postgres.Name {
		position = `(e.transaction_id, e.position) %s (CAST($%d::text AS xid8), $%d)`
		args[0], args[2] = strconv.FormatInt(handled.TransactionID, 10), strconv.FormatInt(after.TransactionID, 10)
	}
	q := `SELECT e.event_id, e.` + d.TransactionIDAsInt + `, e.position, e.tenant_id, e.stream_id, e.stream_version, e.event_type,
			e.occurred_at, e.correlation_id, e.payload, e.packed_payload
		FROM events e
		JOIN stream_snapshots s ON s.tenant_id = e.tenant_id AND s.stream_id = e.stream_id
		WHERE s.state <> '' AND s.version >= e.stream_version
		  AND ` + fmt.Sprintf(position, "<", 1, 2) + `
		  AND ` + fmt.Sprintf(position, ">", 3, 4) + `
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.event_id)
		ORDER BY e.transaction_id, e.position
		LIMIT $5`
	var events []Event
	if err := s.query(ctx, q, args, func(e Event) { events = append(events, e) }); err != nil {
		return nil, fmt.Errorf("read archivable events after %+v: %w", after, err)
	}
	return events, nil
}

// DeleteArchived deletes the events with the given ids, in the context's transaction or one short transaction of
// its own, and returns how many there were. Only the event archive calls it, with events it has written to a
// synced file.
func (s *Store) DeleteArchived(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := sqldb.InTx(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		cond, args := s.db.Dialect.InList("event_id", 1, ids)
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE `+cond, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d archived events: %w", len(ids), err)
	}
	return int(n), nil
}
