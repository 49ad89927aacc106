package rebuild

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
)

// The live projections' topic, as the migrations create it (adapters/messaging.TopicEvents).
const (
	messagesTable = "watermill_events"
	offsetsTable  = "watermill_offsets_events"
)

// holdGroup stops the live projections' consumer group from committing a batch until tx ends, and returns the
// events of the messages it has not acked yet. A Watermill subscriber locks its group's offsets row for the
// whole of a batch, so holding that row (PostgreSQL) waits for the batch in flight and keeps the next one out;
// on SQLite, tx already holds the single writer, which the subscriber's batch needs too.
//
// The unacked events are those the live projections will apply after tx: whatever tx puts into the read models
// the projections apply again, which changes nothing (every projection skips what a row already has).
func holdGroup(ctx context.Context, db *sqldb.DB, tx *sql.Tx, group string) ([]eventstore.Event, error) {
	var rows *sql.Rows
	var err error
	if db.Dialect.Name == sqldb.Postgres.Name {
		var acked int64
		var lastTx string
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(offset_acked, 0), last_processed_transaction_id::text FROM `+offsetsTable+`
			WHERE consumer_group = $1 FOR UPDATE`, group).Scan(&acked, &lastTx)
		if err == sql.ErrNoRows {
			// The group has never subscribed: keep it from starting until tx ends. It will then read every
			// message from the start.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE `+offsetsTable+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return nil, fmt.Errorf("hold consumer group %s: %w", group, err)
			}
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("hold consumer group %s: %w", group, err)
		}
		rows, err = tx.QueryContext(ctx, `SELECT payload FROM `+messagesTable+`
			WHERE (transaction_id, "offset") > ($1::xid8, $2) ORDER BY transaction_id, "offset"`, lastTx, acked)
	} else {
		var acked int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT offset_acked FROM `+offsetsTable+` WHERE consumer_group = $1), 0)`,
			group).Scan(&acked); err != nil {
			return nil, fmt.Errorf("hold consumer group %s: %w", group, err)
		}
		rows, err = tx.QueryContext(ctx, `SELECT payload FROM `+messagesTable+` WHERE "offset" > $1 ORDER BY "offset"`, acked)
	}
	if err != nil {
		return nil, fmt.Errorf("read the messages consumer group %s has not acked: %w", group, err)
	}
	defer rows.Close()
	var events []eventstore.Event
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			return nil, fmt.Errorf("read the messages consumer group %s has not acked: %w", group, err)
		}
		var batch eventstore.Batch
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, fmt.Errorf("decode a message consumer group %s has not acked: %w", group, err)
		}
		events = append(events, batch.Events...)
	}
	return events, rows.Err()
}

// Hold is holdGroup for the rebuilder's consumer group, for a rebuild of the delivery queue, which keeps its
// table and only adds to it.
func (r *Rebuilder) Hold(ctx context.Context, tx *sql.Tx) ([]eventstore.Event, error) {
	return holdGroup(ctx, r.db, tx, r.group)
}
