package watermillsqlite

import (
	"fmt"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// OffsetsAdapter is a wsql.OffsetsAdapter for SQLite that stores, per consumer
// group, the offset of the last acked message. It relies on the connection
// setup described in the package documentation for exactly-once delivery.
type OffsetsAdapter struct {
	// GenerateMessagesOffsetsTableName overrides the offsets table name; it
	// must return a ready-to-use (quoted) identifier.
	// Default: "watermill_offsets_<topic>".
	GenerateMessagesOffsetsTableName func(topic string) string
}

var _ wsql.OffsetsAdapter = OffsetsAdapter{}

// MessagesOffsetsTable returns the quoted name of the offsets table for topic.
func (a OffsetsAdapter) MessagesOffsetsTable(topic string) string {
	if a.GenerateMessagesOffsetsTableName != nil {
		return a.GenerateMessagesOffsetsTableName(topic)
	}
	return fmt.Sprintf(`"watermill_offsets_%s"`, topic)
}

func (a OffsetsAdapter) SchemaInitializingQueries(topic string) []wsql.Query {
	return []wsql.Query{{Query: `CREATE TABLE IF NOT EXISTS ` + a.MessagesOffsetsTable(topic) + ` (
	consumer_group TEXT PRIMARY KEY,
	offset_acked INTEGER NOT NULL DEFAULT 0
)`}}
}

// NextOffsetQuery returns the last acked offset, 0 for a group that has not
// acked anything yet. It needs no FOR UPDATE (SQLite has none): the
// subscriber's transaction already holds the database-wide write lock.
func (a OffsetsAdapter) NextOffsetQuery(topic, consumerGroup string) wsql.Query {
	return wsql.Query{
		Query: `SELECT COALESCE((SELECT offset_acked FROM ` + a.MessagesOffsetsTable(topic) + ` WHERE consumer_group = $1), 0)`,
		Args:  []any{consumerGroup},
	}
}

func (a OffsetsAdapter) AckMessageQuery(topic string, row wsql.Row, consumerGroup string) wsql.Query {
	return wsql.Query{
		Query: `INSERT INTO ` + a.MessagesOffsetsTable(topic) + ` (consumer_group, offset_acked) VALUES ($1, $2)
ON CONFLICT (consumer_group) DO UPDATE SET offset_acked = excluded.offset_acked`,
		Args: []any{consumerGroup, row.Offset},
	}
}

// ConsumedMessageQuery is empty: the write lock already keeps other
// subscribers of the group away, so there is nothing to claim per message.
func (a OffsetsAdapter) ConsumedMessageQuery(topic string, row wsql.Row, consumerGroup string, consumerULID []byte) wsql.Query {
	return wsql.Query{}
}

// BeforeSubscribingQueries is empty. PostgreSQL inserts a zero offset here so
// that FOR UPDATE has a row to lock; SQLite locks the whole database instead,
// and a missing row already reads as offset 0. Inserting it anyway would make
// Subscribe wait for the write lock, which another subscriber holds until its
// messages are acked: Subscribe would then fail with SQLITE_BUSY after
// busy_timeout whenever a consumer of the same database is slow.
func (a OffsetsAdapter) BeforeSubscribingQueries(topic string, consumerGroup string) []wsql.Query {
	return nil
}
