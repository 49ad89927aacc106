package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
)

// HandledBefore returns the position before which every consumer group of the event topic (the projections,
// and any other group that has an offsets row) has handled every stored event: an event at a position before it
// is in every read model. ok is false while no group has acknowledged anything.
//
// On PostgreSQL an event and its message share their transaction id, and a group reads messages in transaction
// id order below the oldest running transaction: every event of a transaction older than the one of a group's
// last acknowledged message is handled. On SQLite, with its single writer, messages are stored in event order:
// every event before the first event of the first message a group has not acknowledged is handled.
func HandledBefore(ctx context.Context, db *sqldb.DB) (before eventstore.Position, ok bool, err error) {
	offsets, ok := db.Dialect.WatermillOffsets.(offsetsTable)
	if !ok {
		return eventstore.Position{}, false, fmt.Errorf("the %s watermill offsets %T do not name their tables", db.Dialect.Name, db.Dialect.WatermillOffsets)
	}
	table := offsets.MessagesOffsetsTable(TopicEvents)
	if db.Dialect.Name == sqldb.Postgres.Name {
		var tx sql.NullInt64
		err := sqldb.ReaderFor(ctx, db).QueryRowContext(ctx, `SELECT MIN(last_processed_transaction_id::text::bigint) FROM `+table).Scan(&tx)
		if err != nil {
			return eventstore.Position{}, false, fmt.Errorf("read the event topic's offsets: %w", err)
		}
		return eventstore.Position{TransactionID: tx.Int64}, tx.Valid && tx.Int64 > 0, nil
	}
	var acked sql.NullInt64
	if err := sqldb.ReaderFor(ctx, db).QueryRowContext(ctx, `SELECT MIN(offset_acked) FROM `+table).Scan(&acked); err != nil {
		return eventstore.Position{}, false, fmt.Errorf("read the event topic's offsets: %w", err)
	}
	if !acked.Valid {
		return eventstore.Position{}, false, nil
	}
	messages, ok := db.Dialect.WatermillSchema.(messagesTable)
	if !ok {
		return eventstore.Position{}, false, fmt.Errorf("the %s watermill schema %T does not name its tables", db.Dialect.Name, db.Dialect.WatermillSchema)
	}
	var payload []byte
	err = sqldb.ReaderFor(ctx, db).QueryRowContext(ctx, `SELECT payload FROM `+messages.MessagesTable(TopicEvents)+` WHERE "offset" > $1 ORDER BY "offset" LIMIT 1`,
		acked.Int64).Scan(&payload)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Position{Sequence: math.MaxInt64}, true, nil
	}
	if err != nil {
		return eventstore.Position{}, false, fmt.Errorf("read the first message not acknowledged: %w", err)
	}
	var batch eventstore.Batch
	if err := json.Unmarshal(payload, &batch); err != nil {
		return eventstore.Position{}, false, fmt.Errorf("decode the first message not acknowledged: %w", err)
	}
	if len(batch.Events) == 0 {
		return eventstore.Position{}, false, errors.New("the first message not acknowledged holds no event")
	}
	return batch.Events[0].Position, true, nil
}
