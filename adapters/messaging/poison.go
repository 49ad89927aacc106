package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/poison"
	"github.com/sirupsen/logrus"
)

// Poison implements poison.Queue on the poison topic's table. Builds before issue 9 parked a message there after
// its retries ran out (Watermill's PoisonQueue middleware) and nothing ever read it; Poison shows those messages
// and sends them back where they came from.
type Poison struct {
	db    *sqldb.DB
	table string
	pub   txPublisher
	log   *logrus.Entry
}

var _ poison.Queue = (*Poison)(nil)

// messagesTable is the part of both dialects' watermill-sql schemas that names a topic's table; the schema
// interface itself does not include it.
type messagesTable interface {
	MessagesTable(topic string) string
}

// NewPoison returns the poison topic of db.
func NewPoison(db *sqldb.DB, log *logrus.Entry) (*Poison, error) {
	if db == nil {
		return nil, errors.New("new poison: nil db")
	}
	if log == nil {
		return nil, errors.New("new poison: nil logger")
	}
	schema, ok := db.Dialect.WatermillSchema.(messagesTable)
	if !ok {
		return nil, fmt.Errorf("new poison: the %s watermill schema %T does not name its tables", db.Dialect.Name, db.Dialect.WatermillSchema)
	}
	return &Poison{
		db:    db,
		table: schema.MessagesTable(TopicPoison),
		pub:   txPublisher{db: db, logger: NewLogger(log.WithField("component", "watermill"))},
		log:   log,
	}, nil
}

// List implements poison.Queue.
func (p *Poison) List(ctx context.Context) ([]poison.Message, error) {
	rows, err := sqldb.ReaderFor(ctx, p.db).QueryContext(ctx,
		`SELECT "offset", uuid, created_at, metadata FROM `+p.table+` ORDER BY "offset"`)
	if err != nil {
		return nil, fmt.Errorf("list the poison topic: %w", err)
	}
	defer rows.Close()
	var msgs []poison.Message
	for rows.Next() {
		var (
			m          poison.Message
			poisonedAt timestamp
			metadata   []byte
		)
		if err := rows.Scan(&m.Offset, &m.ID, &poisonedAt, &metadata); err != nil {
			return nil, fmt.Errorf("list the poison topic: %w", err)
		}
		md, err := decodeMetadata(metadata)
		if err != nil {
			return nil, fmt.Errorf("list the poison topic: message %s at offset %d: %w", m.ID, m.Offset, err)
		}
		m.PoisonedAt = poisonedAt.Time
		m.Topic = md.Get(middleware.PoisonedTopicKey)
		m.Handler = md.Get(middleware.PoisonedHandlerKey)
		m.Subscriber = md.Get(middleware.PoisonedSubscriberKey)
		m.Reason = md.Get(middleware.ReasonForPoisonedKey)
		m.Kind = kindOf(m.ID, md)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the poison topic: %w", err)
	}
	return msgs, nil
}

// Replay implements poison.Queue. Every id is checked before any message is sent, so a mistyped id changes
// nothing.
func (p *Poison) Replay(ctx context.Context, ids []string) ([]poison.Message, error) {
	if len(ids) == 0 {
		return nil, errors.New("replay poisoned messages: no ids")
	}
	all, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	var chosen []poison.Message
	for _, m := range all {
		// A message poisoned twice under one id, which happens when a replay fails again before its first copy
		// is gone, is replayed twice: each copy is one message on the topic.
		if slices.Contains(ids, m.ID) {
			found[m.ID] = true
			chosen = append(chosen, m)
		}
	}
	var unknown []string
	for _, id := range ids {
		if !found[id] && !slices.Contains(unknown, id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, &poison.UnknownIDsError{IDs: unknown}
	}
	return p.replay(ctx, chosen)
}

// ReplayAll implements poison.Queue.
func (p *Poison) ReplayAll(ctx context.Context) ([]poison.Message, error) {
	all, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	return p.replay(ctx, all)
}

// replay sends msgs back, oldest first, so the messages of one topic go back in the order they failed in. A
// message that can't go back anywhere stops the replay before it starts, rather than halfway through.
func (p *Poison) replay(ctx context.Context, msgs []poison.Message) ([]poison.Message, error) {
	var bad []error
	for _, m := range msgs {
		if !isReplayTopic(m.Topic) {
			bad = append(bad, fmt.Errorf("message %s at offset %d: original topic %q: %w", m.ID, m.Offset, m.Topic, poison.ErrNotReplayable))
		}
	}
	if err := errors.Join(bad...); err != nil {
		return nil, fmt.Errorf("replay poisoned messages: %w", err)
	}
	var replayed []poison.Message
	for _, m := range msgs {
		ok, err := p.replayOne(ctx, m)
		if err != nil {
			return replayed, fmt.Errorf("replay message %s at offset %d to %s: %w", m.ID, m.Offset, m.Topic, err)
		}
		if !ok {
			// Another replay took it between the list and now: it went back once, which is what counts.
			p.log.WithFields(logrus.Fields{"id": m.ID, "offset": m.Offset}).Info("poisoned message already replayed by someone else")
			continue
		}
		p.log.WithFields(logrus.Fields{"id": m.ID, "offset": m.Offset, "topic": m.Topic, "kind": m.Kind, "handler": m.Handler}).
			Info("replayed poisoned message")
		replayed = append(replayed, m)
	}
	return replayed, nil
}

// replayOne takes the message off the poison topic and publishes it on its original topic in one transaction,
// so an interrupted replay leaves it where it was and a finished one can't send it again. It reports false
// when the message was no longer there.
func (p *Poison) replayOne(ctx context.Context, m poison.Message) (bool, error) {
	replayed := false
	err := sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		var (
			id                string
			payload, metadata []byte
		)
		// The DELETE is the claim: of two replays at once, the second finds nothing once the first commits.
		err := tx.QueryRowContext(ctx, `DELETE FROM `+p.table+` WHERE "offset" = $1 RETURNING uuid, payload, metadata`, m.Offset).
			Scan(&id, &payload, &metadata)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("take it off the poison topic: %w", err)
		}
		md, err := decodeMetadata(metadata)
		if err != nil {
			return err
		}
		topic := md.Get(middleware.PoisonedTopicKey)
		if !isReplayTopic(topic) {
			return fmt.Errorf("original topic %q: %w", topic, poison.ErrNotReplayable)
		}
		// The poison keys would mislead whoever poisons or inspects the message next; the rest (the cqrs name,
		// the correlation id) is what the handler needs.
		for _, key := range []string{middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey} {
			delete(md, key)
		}
		msg := message.NewMessage(id, payload)
		msg.Metadata = md
		msg.SetContext(ctx)
		if err := p.pub.publish(tx, topic, []*message.Message{msg}); err != nil {
			return err
		}
		replayed = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return replayed, nil
}

// isReplayTopic reports whether topic is one passpush consumes. The topic comes from a row's metadata and ends up
// in a table name, so nothing else is accepted.
func isReplayTopic(topic string) bool {
	if topic == TopicEvents {
		return true
	}
	for i := range CommandPartitions {
		if topic == CommandTopic(i) {
			return true
		}
	}
	return false
}

func decodeMetadata(raw []byte) (message.Metadata, error) {
	md := message.Metadata{}
	if len(raw) == 0 {
		return md, nil
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return md, nil
}

// kindOf is the type name the cqrs marshaler stored with the message.
func kindOf(id string, md message.Metadata) string {
	msg := message.NewMessage(id, nil)
	msg.Metadata = md
	return marshaler.NameFromMessage(msg)
}

// timestamp scans watermill's created_at column: PostgreSQL's driver returns a time.Time (the server's wall
// clock, UTC on a default server, since the column has no time zone), SQLite's the text CURRENT_TIMESTAMP wrote,
// in UTC.
type timestamp struct {
	time.Time
}

func (t *timestamp) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		t.Time = v.UTC()
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		t.Time = time.Time{}
		return nil
	default:
		return fmt.Errorf("created_at: unexpected %T", src)
	}
}

func (t *timestamp) parse(s string) error {
	parsed, err := time.Parse(time.DateTime, s)
	if err != nil {
		// A value written by hand, in RFC 3339. time.DateTime already takes fractions of a second.
		if parsed, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("created_at %q: %w", s, err)
		}
	}
	t.Time = parsed.UTC()
	return nil
}
