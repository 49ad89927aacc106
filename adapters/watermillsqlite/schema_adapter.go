// Package watermillsqlite stores watermill-sql/v3 messages and consumer-group
// offsets in SQLite (driver modernc.org/sqlite).
//
// The adapters assume every connection is opened with _txlock=immediate, for
// example:
//
//	file:/path/x.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate
//
// With that, every transaction takes SQLite's single write lock at BEGIN, which
// gives both guarantees the subscriber relies on:
//
//   - Exactly-once delivery within a consumer group: two subscribers of the
//     same group cannot read the same acked offset concurrently, because the
//     second one's BEGIN waits until the first one has committed its ack. It
//     plays the role of SELECT ... FOR UPDATE on PostgreSQL.
//   - No skipped messages: a message's AUTOINCREMENT offset is assigned under
//     the write lock, and nobody else can commit until that transaction ends,
//     so offsets become visible in increasing order. Ordering by offset never
//     skips a row that commits late, which is why no transaction-id cut-off
//     (pg_snapshot_xmin on PostgreSQL) is needed.
//
// A deferred transaction would break both: it reads from a snapshot and only
// then tries to upgrade to a write lock, which fails with SQLITE_BUSY at once
// instead of waiting for busy_timeout.
//
// The price: the watermill-sql subscriber keeps its transaction open from
// reading a batch until its messages are acked, so the database-wide write lock
// is held while a message waits to be read and while it is handled. Any other
// write in the meantime (a publish on the *sql.DB, another subscriber, a
// request handler) waits and fails with SQLITE_BUSY after busy_timeout. A
// message handler must therefore do its writes, publishing included, through
// the message's transaction (sql.TxFromContext), must stay short, and every
// subscription must be drained by its own goroutine.
package watermillsqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

const defaultSubscribeBatchSize = 100

// SchemaAdapter is a wsql.SchemaAdapter for SQLite.
//
// Messages are kept after every consumer group acked them: the table is an
// audit trail. Pruning, if ever wanted, is the application's job.
type SchemaAdapter struct {
	// GenerateMessagesTableName overrides the messages table name; it must
	// return a ready-to-use (quoted) identifier. Default: "watermill_<topic>".
	GenerateMessagesTableName func(topic string) string

	// SubscribeBatchSize is how many messages one subscriber transaction reads.
	// The write lock is held until the whole batch is acked (or the ack deadline
	// passes), so larger batches block publishers for longer. Default: 100.
	SubscribeBatchSize int
}

var _ wsql.SchemaAdapter = SchemaAdapter{}

// MessagesTable returns the quoted name of the messages table for topic.
func (s SchemaAdapter) MessagesTable(topic string) string {
	if s.GenerateMessagesTableName != nil {
		return s.GenerateMessagesTableName(topic)
	}
	return fmt.Sprintf(`"watermill_%s"`, topic)
}

func (s SchemaAdapter) SchemaInitializingQueries(topic string) []wsql.Query {
	return []wsql.Query{{Query: createMessagesTable(s.MessagesTable(topic))}}
}

func createMessagesTable(table string) string {
	// AUTOINCREMENT, unlike a bare INTEGER PRIMARY KEY, never reuses the offset
	// of a deleted last row, so manual pruning cannot make a consumer group
	// skip a message that reuses an already-acked offset.
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	"offset" INTEGER PRIMARY KEY AUTOINCREMENT,
	uuid TEXT NOT NULL,
	created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
	payload BLOB,
	metadata TEXT
)`
}

func (s SchemaAdapter) InsertQuery(topic string, msgs message.Messages) (wsql.Query, error) {
	if len(msgs) == 0 {
		return wsql.Query{}, fmt.Errorf("no messages to insert into topic %s", topic)
	}

	values := make([]string, 0, len(msgs))
	args := make([]any, 0, 3*len(msgs))
	for _, msg := range msgs {
		metadata, err := json.Marshal(msg.Metadata)
		if err != nil {
			return wsql.Query{}, fmt.Errorf("could not marshal metadata of message %s: %w", msg.UUID, err)
		}
		// Plain ? placeholders: the driver's cost of binding $N names grows with the square of their count.
		values = append(values, "(?, ?, ?)")
		// Metadata goes in as a string so it is stored as TEXT, readable with
		// the sqlite3 CLI; a []byte would be stored as a BLOB.
		args = append(args, msg.UUID, []byte(msg.Payload), string(metadata))
	}

	return wsql.Query{
		Query: `INSERT INTO ` + s.MessagesTable(topic) + ` (uuid, payload, metadata) VALUES ` + strings.Join(values, ", "),
		Args:  args,
	}, nil
}

func (s SchemaAdapter) SelectQuery(topic string, consumerGroup string, offsetsAdapter wsql.OffsetsAdapter) wsql.Query {
	next := offsetsAdapter.NextOffsetQuery(topic, consumerGroup)

	query := `SELECT "offset", uuid, payload, metadata FROM ` + s.MessagesTable(topic) + `
WHERE "offset" > (` + next.Query + `)
ORDER BY "offset" ASC
LIMIT ` + fmt.Sprint(s.batchSize())

	return wsql.Query{Query: query, Args: next.Args}
}

func (s SchemaAdapter) batchSize() int {
	if s.SubscribeBatchSize <= 0 {
		return defaultSubscribeBatchSize
	}
	return s.SubscribeBatchSize
}

func (s SchemaAdapter) UnmarshalMessage(row wsql.Scanner) (wsql.Row, error) {
	var r wsql.Row
	if err := row.Scan(&r.Offset, &r.UUID, &r.Payload, &r.Metadata); err != nil {
		return wsql.Row{}, fmt.Errorf("could not scan message row: %w", err)
	}

	msg := message.NewMessage(string(r.UUID), r.Payload)
	if len(r.Metadata) > 0 {
		if err := json.Unmarshal(r.Metadata, &msg.Metadata); err != nil {
			return wsql.Row{}, fmt.Errorf("could not unmarshal metadata of message %s (offset %d): %w", r.UUID, r.Offset, err)
		}
	}
	r.Msg = msg

	return r, nil
}

// SubscribeIsolationLevel returns sql.LevelDefault. SQLite transactions are
// always serializable; modernc.org/sqlite silently ignores any other level
// rather than rejecting it, so asking for one would only mislead readers.
func (s SchemaAdapter) SubscribeIsolationLevel() sql.IsolationLevel {
	return sql.LevelDefault
}

// SchemaSQL returns the CREATE TABLE statements for topic's messages and
// offsets tables under the default names, separated by ";\n", so migrations
// can be checked against what the adapters would create themselves.
func SchemaSQL(topic string) string {
	var stmts []string
	for _, q := range (SchemaAdapter{}).SchemaInitializingQueries(topic) {
		stmts = append(stmts, q.Query)
	}
	for _, q := range (OffsetsAdapter{}).SchemaInitializingQueries(topic) {
		stmts = append(stmts, q.Query)
	}
	return strings.Join(stmts, ";\n") + ";\n"
}
