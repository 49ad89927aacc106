// Package messaging wires Watermill's CQRS component to the SQL database: the command and event buses, their
// processors and the router middleware.
package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/correlation"
)

var marshaler = cqrs.JSONMarshaler{GenerateName: cqrs.StructName}

// txPublisher publishes in the transaction the message's context carries (a subscriber's, or one InTx opened),
// else with one INSERT of its own. Publishing inside a handler's transaction is what makes a command's events
// commit together with the ack; on SQLite's single connection it is also the only way.
type txPublisher struct {
	db     *sqldb.DB
	logger watermill.LoggerAdapter
}

func (p txPublisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	if tx, ok := sqldb.TxFromContext(ctx); ok {
		return p.publish(tx, topic, msgs)
	}
	// No transaction to join: the publisher writes every message in one INSERT, which is atomic by itself, so
	// an explicit transaction would only add two round trips to every execute call.
	return p.publish(p.db.DB, topic, msgs)
}

func (p txPublisher) publish(db wsql.ContextExecutor, topic string, msgs []*message.Message) error {
	pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{SchemaAdapter: p.db.Dialect.WatermillSchema}, p.logger)
	if err != nil {
		return fmt.Errorf("new publisher: %w", err)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

func (p txPublisher) Close() error { return nil }

// EventPublisher implements eventstore.Publisher: the events of one append go on the events topic as
// eventstore.Batch messages.
type EventPublisher struct {
	pub txPublisher
}

// maxBatchEvents bounds a message's size: a 50,000-pass import batch becomes 100 messages, not one of 25 MB.
const maxBatchEvents = 500

// NewEventPublisher returns the event publisher for db.
func NewEventPublisher(db *sqldb.DB, logger watermill.LoggerAdapter) (*EventPublisher, error) {
	if db == nil {
		return nil, errors.New("new event publisher: nil db")
	}
	return &EventPublisher{pub: txPublisher{db: db, logger: logger}}, nil
}

// PublishInTx implements eventstore.Publisher. It sends all messages in one INSERT, which is why it marshals
// them itself instead of calling cqrs.EventBus.Publish once per message.
func (p *EventPublisher) PublishInTx(ctx context.Context, tx *sql.Tx, events []eventstore.Event) error {
	var msgs []*message.Message
	for start := 0; start < len(events); start += maxBatchEvents {
		batch := eventstore.Batch{Events: events[start:min(start+maxBatchEvents, len(events))]}
		msg, err := marshaler.Marshal(&batch)
		if err != nil {
			return fmt.Errorf("marshal events from %s: %w", batch.Events[0].ID, err)
		}
		middleware.SetCorrelationID(correlation.ID(ctx), msg)
		msg.SetContext(ctx)
		msgs = append(msgs, msg)
	}
	return p.pub.publish(tx, TopicEvents, msgs)
}
