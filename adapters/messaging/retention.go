package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/sirupsen/logrus"
)

// RetentionConfig tunes the pruning of the message tables. Zero fields take the defaults.
type RetentionConfig struct {
	// Retention is how long a message every consumer group has acknowledged stays in its table, for an operator
	// who looks at what went through the buses (PASSPUSH_MESSAGE_RETENTION). Default 1h.
	Retention time.Duration
	// Batch is how many rows one DELETE removes, each in a transaction of its own, so that no lock is held long
	// enough to hold up a subscriber (on SQLite every delete takes the single write lock). Default 1,000.
	Batch int
	// Interval is how long the pruner sleeps once a topic has nothing left to prune. Default 1 minute.
	Interval time.Duration
	// Pause is the pause between two batches, so a large backlog of prunable rows leaves the buses room.
	// Default 10 ms.
	Pause time.Duration
}

// DefaultMessageRetention is RetentionConfig.Retention's default.
const DefaultMessageRetention = time.Hour

func (c *RetentionConfig) setDefaults() {
	if c.Retention == 0 {
		c.Retention = DefaultMessageRetention
	}
	if c.Batch == 0 {
		c.Batch = 1000
	}
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.Pause == 0 {
		c.Pause = 10 * time.Millisecond
	}
}

// Validate reports a config the pruner cannot run with.
func (c RetentionConfig) Validate() error {
	var err error
	if c.Retention < 0 {
		err = errors.Join(err, errors.New("message retention must not be negative"))
	}
	if c.Batch < 1 {
		err = errors.Join(err, errors.New("prune batch must be at least 1"))
	}
	if c.Interval <= 0 || c.Pause < 0 {
		err = errors.Join(err, errors.New("prune interval must be positive and pause not negative"))
	}
	return err
}

// PruneTopic is a topic the pruner keeps short, and the consumer groups that read it. A group is counted even
// before it has an offsets row: until it has acknowledged something, nothing of its topic is pruned.
type PruneTopic struct {
	Topic  string
	Groups []string
}

// Pruner deletes the messages that every consumer group of their topic has acknowledged and that are older than
// the retention. It never touches the poison topic: what is there waits for an operator.
type Pruner struct {
	db     *sqldb.DB
	topics []PruneTopic
	config RetentionConfig
	log    *logrus.Entry
}

// NewPruner returns a pruner of topics' message tables.
func NewPruner(db *sqldb.DB, topics []PruneTopic, config RetentionConfig, log *logrus.Entry) (*Pruner, error) {
	if db == nil || log == nil {
		return nil, errors.New("new message pruner: db and log are required")
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid message retention config: %w", err)
	}
	if _, ok := db.Dialect.WatermillSchema.(messagesTable); !ok {
		return nil, fmt.Errorf("new message pruner: the %s watermill schema %T does not name its tables", db.Dialect.Name, db.Dialect.WatermillSchema)
	}
	if _, ok := db.Dialect.WatermillOffsets.(offsetsTable); !ok {
		return nil, fmt.Errorf("new message pruner: the %s watermill offsets %T do not name their tables", db.Dialect.Name, db.Dialect.WatermillOffsets)
	}
	for _, t := range topics {
		if t.Topic == TopicPoison {
			return nil, errors.New("new message pruner: the poison topic is never pruned")
		}
		if t.Topic == "" || len(t.Groups) == 0 {
			return nil, fmt.Errorf("new message pruner: topic %q needs its consumer groups", t.Topic)
		}
	}
	return &Pruner{db: db, topics: topics, config: config, log: log}, nil
}

// Interval is how long to wait between two rounds of Prune once a round has found nothing more to prune.
func (p *Pruner) Interval() time.Duration { return p.config.Interval }

// Prune deletes, topic by topic and a batch at a time, every message that may go, and returns how many it
// deleted.
func (p *Pruner) Prune(ctx context.Context) (int, error) {
	total := 0
	for _, t := range p.topics {
		for {
			n, err := p.pruneBatch(ctx, t)
			total += n
			if err != nil {
				return total, fmt.Errorf("prune topic %s: %w", t.Topic, err)
			}
			if n < p.config.Batch {
				break
			}
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(p.config.Pause):
			}
		}
	}
	return total, nil
}

// pruneBatch deletes up to a batch of t's messages that every group has acknowledged and that are past the
// retention, in one short statement.
func (p *Pruner) pruneBatch(ctx context.Context, t PruneTopic) (int, error) {
	acked, ok, err := p.ackedByAll(ctx, t)
	if err != nil || !ok {
		return 0, err
	}
	table := p.db.Dialect.WatermillSchema.(messagesTable).MessagesTable(t.Topic)
	var res sql.Result
	if p.db.Dialect.Name == sqldb.Postgres.Name {
		// watermill-sql reads a group's next messages as (transaction_id, offset) > its acknowledged pair, so a
		// message at or below every group's pair is never read again. created_at is the publishing transaction's
		// start, in the server's own clock, compared with that clock.
		res, err = p.db.ExecContext(ctx, `
			DELETE FROM `+table+` WHERE (transaction_id, "offset") IN (
				SELECT transaction_id, "offset" FROM `+table+`
				WHERE (transaction_id, "offset") <= (CAST($1::text AS xid8), $2)
				  AND created_at < LOCALTIMESTAMP - make_interval(secs => $3)
				ORDER BY transaction_id, "offset"
				LIMIT $4)`,
			strconv.FormatInt(acked.transactionID, 10), acked.offset, p.config.Retention.Seconds(), p.config.Batch)
	} else {
		// SQLite offsets only grow (AUTOINCREMENT never reuses a deleted one); created_at is UTC text.
		res, err = p.db.ExecContext(ctx, `
			DELETE FROM `+table+` WHERE "offset" IN (
				SELECT "offset" FROM `+table+`
				WHERE "offset" <= $1 AND created_at < datetime('now', $2)
				ORDER BY "offset"
				LIMIT $3)`,
			acked.offset, fmt.Sprintf("-%d seconds", int64(p.config.Retention.Seconds())), p.config.Batch)
	}
	if err != nil {
		return 0, fmt.Errorf("delete acknowledged messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete acknowledged messages: %w", err)
	}
	return int(n), nil
}

// ackedPosition is a consumer group's last acknowledged message. transactionID is 0 on SQLite.
type ackedPosition struct {
	transactionID int64
	offset        int64
}

// ackedByAll returns the lowest acknowledged position among t's consumer groups: the ones t names and any other
// that has an offsets row (a group another version of passpush reads with, which may still come back for its
// messages). ok is false while a named group has acknowledged nothing.
func (p *Pruner) ackedByAll(ctx context.Context, t PruneTopic) (ackedPosition, bool, error) {
	offsets := p.db.Dialect.WatermillOffsets.(offsetsTable).MessagesOffsetsTable(t.Topic)
	txID := "0"
	if p.db.Dialect.Name == sqldb.Postgres.Name {
		txID = "last_processed_transaction_id::text::bigint"
	}
	rows, err := p.db.QueryContext(ctx, `SELECT consumer_group, `+txID+`, COALESCE(offset_acked, 0) FROM `+offsets)
	if err != nil {
		return ackedPosition{}, false, fmt.Errorf("read the consumer groups' offsets: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var lowest ackedPosition
	first := true
	for rows.Next() {
		var group string
		var a ackedPosition
		if err := rows.Scan(&group, &a.transactionID, &a.offset); err != nil {
			return ackedPosition{}, false, fmt.Errorf("read the consumer groups' offsets: %w", err)
		}
		seen[group] = true
		if first || a.transactionID < lowest.transactionID ||
			(a.transactionID == lowest.transactionID && a.offset < lowest.offset) {
			lowest, first = a, false
		}
	}
	if err := rows.Err(); err != nil {
		return ackedPosition{}, false, fmt.Errorf("read the consumer groups' offsets: %w", err)
	}
	for _, g := range t.Groups {
		if !seen[g] {
			return ackedPosition{}, false, nil
		}
	}
	return lowest, !first, nil
}

// offsetsTable is a watermill offsets adapter that names its tables, as both of ours do.
type offsetsTable interface {
	MessagesOffsetsTable(topic string) string
}
