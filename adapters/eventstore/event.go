// Package eventstore is the append-only SQL event store. Appending an event also publishes it on the Watermill
// event bus in the same transaction, so the store and the bus never disagree.
package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

// ErrConflict means another writer appended to the stream since it was loaded; load it again and retry.
var ErrConflict = errors.New("event stream version conflict")

// Event is a stored event and the envelope every event bus message carries.
type Event struct {
	ID            string          `json:"eventId"`
	Position      Position        `json:"position"`
	TenantID      string          `json:"tenantId"`
	StreamID      string          `json:"streamId"`
	Version       int             `json:"version"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	CorrelationID string          `json:"correlationId"`
	Payload       json.RawMessage `json:"payload"`
}

// DomainEvent is an event as the domain declares it: a pass.Event, or an activity.Lifecycle.
type DomainEvent interface {
	Name() string
}

// Decode returns the domain event e records. It is the one place a stored payload is decoded, for every reader
// of the store: the pass repository, the projections and the delivery queue. known is false for a type no
// domain package declares (ProjectionSkipped, or an event written by a newer version), which a reader passes
// over. An error is an EventError, so a projection the event stops can name it.
func (e Event) Decode() (decoded DomainEvent, known bool, err error) {
	decoded, known, err = pass.DecodeEvent(e.Type, e.Payload)
	if !known {
		decoded, known, err = activity.DecodeEvent(e.Type, e.Payload)
	}
	if !known {
		decoded, known, err = activity.DecodePassCheckEvent(e.Type, e.Payload)
	}
	if err != nil {
		return nil, true, e.Fail(err)
	}
	if !known {
		return nil, false, nil
	}
	return decoded, true, nil
}

// Batch is the events of one append, in order: the message the event bus carries. A message per append rather
// than per event lets a projection write an import's thousand passes with a few multi-row statements instead of
// a thousand round trips.
type Batch struct {
	Events []Event `json:"events"`
}

// Position is an event's place in the global order. On PostgreSQL it is the inserting transaction's id and then
// the row's sequence number; on SQLite TransactionID is always 0.
type Position struct {
	TransactionID int64 `json:"transactionId"`
	Sequence      int64 `json:"sequence"`
}

// After reports whether p comes after o in the global order.
func (p Position) After(o Position) bool {
	if p.TransactionID != o.TransactionID {
		return p.TransactionID > o.TransactionID
	}
	return p.Sequence > o.Sequence
}

// EventError is a failure that one event caused. A projection wraps what it cannot do with an event in it, so
// that a consumer stopped by the event can name it, and an operator can skip it by its position.
type EventError struct {
	EventID  string
	Position Position
	Err      error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %s at position %d: %v", e.EventID, e.Position.Sequence, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// Fail ties err to the event.
func (e Event) Fail(err error) error {
	return &EventError{EventID: e.ID, Position: e.Position, Err: err}
}

// MaxConflictRetries bounds a writer's reload-and-retry loop; only a stream written by many writers at once needs
// more than one.
const MaxConflictRetries = 20

// RetryConflicts runs try until it returns anything but ErrConflict, at most MaxConflictRetries times more. try
// is told whether an earlier try conflicted, so it can reload what it read.
func RetryConflicts(try func(retry bool) error) error {
	for attempt := 0; ; attempt++ {
		err := try(attempt > 0)
		if !errors.Is(err, ErrConflict) || attempt == MaxConflictRetries {
			return err
		}
	}
}
