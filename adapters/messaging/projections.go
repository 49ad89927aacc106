package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
)

// Projection is a read model fed from the event bus. Its name is what `passpush projections skip` names it by.
type Projection struct {
	Name string
	// Handle takes the events of one append (a batch message) in order. What it cannot do with one event it
	// reports with that event's Fail, so that the event can be named and skipped.
	Handle func(ctx context.Context, events []eventstore.Event) error
}

// AddProjections subscribes projections, called in order, to every stored event, in global order, as one consumer
// group named group. They run in one savepoint of the subscriber's transaction: all take a batch or none does, and
// an event one of them fails on stops the whole group (see failures).
func (b *Bus) AddProjections(group string, projections ...Projection) error {
	for _, p := range projections {
		if p.Name == "" || p.Handle == nil || b.projections[p.Name] {
			return fmt.Errorf("add projections %s: each needs a handler and a name of its own", group)
		}
		b.projections[p.Name] = true
	}
	handle := func(ctx context.Context, batch *eventstore.Batch) error {
		// Each projection decodes the events it takes: decoded here once, the batch is decoded once for all.
		eventstore.DecodeAll(batch.Events)
		return sqldb.InTx(ctx, b.db, func(ctx context.Context, tx *sql.Tx) error {
			var skips map[string]map[int64]bool
			if b.failures.isStopped(group) {
				// Skips are read only while the group is stopped: an operator skips the event it stopped on.
				var err error
				if skips, err = skippedEvents(ctx, tx, batch.Events); err != nil {
					return err
				}
			}
			for _, p := range projections {
				events := without(batch.Events, skips[p.Name])
				if len(events) == 0 {
					continue
				}
				if err := p.Handle(ctx, events); err != nil {
					return fmt.Errorf("projection %s: %w", p.Name, err)
				}
			}
			return nil
		})
	}
	if err := b.eventProcessor.AddHandlersGroup(group, cqrs.NewGroupEventHandler(handle)); err != nil {
		return fmt.Errorf("add projections %s: %w", group, err)
	}
	return nil
}

// skippedEvents returns, per projection, the positions of events that it was told to pass over.
func skippedEvents(ctx context.Context, tx *sql.Tx, events []eventstore.Event) (map[string]map[int64]bool, error) {
	if len(events) == 0 {
		return nil, nil
	}
	first, last := events[0].Position.Sequence, events[0].Position.Sequence
	for _, e := range events {
		first, last = min(first, e.Position.Sequence), max(last, e.Position.Sequence)
	}
	rows, err := tx.QueryContext(ctx, `SELECT projection, position FROM projection_skips WHERE position BETWEEN $1 AND $2`, first, last)
	if err != nil {
		return nil, fmt.Errorf("read projection skips: %w", err)
	}
	defer rows.Close()
	skips := map[string]map[int64]bool{}
	for rows.Next() {
		var projection string
		var position int64
		if err := rows.Scan(&projection, &position); err != nil {
			return nil, fmt.Errorf("read projection skips: %w", err)
		}
		if skips[projection] == nil {
			skips[projection] = map[int64]bool{}
		}
		skips[projection][position] = true
	}
	return skips, rows.Err()
}

func without(events []eventstore.Event, skipped map[int64]bool) []eventstore.Event {
	if len(skipped) == 0 {
		return events
	}
	kept := make([]eventstore.Event, 0, len(events))
	for _, e := range events {
		if !skipped[e.Position.Sequence] {
			kept = append(kept, e)
		}
	}
	return kept
}

// ProjectionSkipped is the event that records an operator's skip: who can read the audit log sees which event
// a projection passed over, and why.
type ProjectionSkipped struct {
	Projection string `json:"projection"`
	Position   int64  `json:"position"`
	EventID    string `json:"eventId"`
	Reason     string `json:"reason"`
}

// Skip errors.
var (
	ErrUnknownProjection = errors.New("unknown projection")
	ErrUnknownPosition   = errors.New("no event at that position")
	ErrAlreadySkipped    = errors.New("the event is already skipped by that projection")
)

// skipsStream is the stream, in the skipped event's tenant, that ProjectionSkipped events are appended to.
const skipsStream = "projection-skips"

// Skip tells the projection named projection to pass over the event at position, and records a
// ProjectionSkipped event with the reason, both in one transaction. A consumer group stopped on that event takes
// it at its next try, within its error backoff.
func (b *Bus) Skip(ctx context.Context, events *eventstore.Store, projection string, position int64, reason string) (eventstore.Event, error) {
	if !b.projections[projection] {
		return eventstore.Event{}, fmt.Errorf("skip %s: %w", projection, ErrUnknownProjection)
	}
	if reason == "" {
		return eventstore.Event{}, errors.New("skip: a reason is required")
	}
	var recorded eventstore.Event
	err := sqldb.InTx(ctx, b.db, func(ctx context.Context, tx *sql.Tx) error {
		var skipped ProjectionSkipped
		var tenantID string
		err := tx.QueryRowContext(ctx, `SELECT event_id, tenant_id FROM events WHERE position = $1`, position).Scan(&skipped.EventID, &tenantID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("skip position %d: %w", position, ErrUnknownPosition)
		}
		if err != nil {
			return fmt.Errorf("read event at position %d: %w", position, err)
		}
		skipped.Projection, skipped.Position, skipped.Reason = projection, position, reason
		res, err := tx.ExecContext(ctx, `
			INSERT INTO projection_skips (projection, position, tenant_id, event_id, reason) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (projection, position) DO NOTHING`, projection, position, tenantID, skipped.EventID, reason)
		if err != nil {
			return fmt.Errorf("record skip of position %d: %w", position, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("skip position %d by %s: %w", position, projection, ErrAlreadySkipped)
		}
		version, err := events.StreamVersion(ctx, tenantID, skipsStream)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(skipped)
		if err != nil {
			return fmt.Errorf("encode ProjectionSkipped: %w", err)
		}
		stored, err := events.AppendInTx(ctx, tx, []eventstore.Event{{
			TenantID: tenantID, StreamID: skipsStream, Version: version + 1, Type: "ProjectionSkipped", Payload: payload,
		}})
		if err != nil {
			return fmt.Errorf("record ProjectionSkipped: %w", err)
		}
		recorded = stored[0]
		return nil
	})
	return recorded, err
}
