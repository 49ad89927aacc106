package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/group"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/activity"
)

// PassCheckStreamPrefix starts the stream of every "Wallet pass?" decision.
const PassCheckStreamPrefix = "passcheck-"

// PassCheckLog implements command.PassCheckLog on the event store. Each decision is the one event of a stream of
// its own, "passcheck-{event id}" at version 1: the split runs thousands of times a second, often on the same
// pass or journey, and a stream per pass or per journey would have concurrent decisions race for its next
// version (a conflict, then a read and a retry) where nothing orders them anyway. The audit log finds a
// decision by its pass and journey from the payload.
//
// Concurrent decisions are appended together (adapters/internal/group), one transaction for many, as
// messaging's PassUpdateSender writes the execute calls' updates: a transaction per call would cap the split at
// what the database commits a second. One write is in flight at a time: each append is one message to the
// projections, whose cost is mostly per message (a transaction, its offsets, a savepoint and an audit statement),
// and a second write in flight would make the messages smaller (README, Performance).
type PassCheckLog struct {
	writer *group.Batcher[eventstore.Event, struct{}]
}

var _ command.PassCheckLog = (*PassCheckLog)(nil)

const (
	// passCheckWriteTimeout bounds one append of decisions.
	passCheckWriteTimeout = 5 * time.Second
	// passCheckMaxRun bounds the decisions of one append, and so one message's size.
	passCheckMaxRun = 500
	// passCheckWritesInFlight is one: see PassCheckLog.
	passCheckWritesInFlight = 1
)

// NewPassCheckLog returns a decision log appending to events.
func NewPassCheckLog(events *eventstore.Store) (*PassCheckLog, error) {
	if events == nil {
		return nil, errors.New("new pass check log: nil event store")
	}
	writer, err := group.NewBatcher(group.Config{MaxRun: passCheckMaxRun, Timeout: passCheckWriteTimeout, MaxInFlight: passCheckWritesInFlight},
		func(ctx context.Context, batch []eventstore.Event) ([]struct{}, error) {
			if _, err := events.Append(ctx, batch); err != nil {
				return nil, err
			}
			return make([]struct{}, len(batch)), nil
		})
	if err != nil {
		return nil, fmt.Errorf("new pass check log: %w", err)
	}
	return &PassCheckLog{writer: writer}, nil
}

// Record implements command.PassCheckLog: it returns once the decision is stored.
func (l *PassCheckLog) Record(ctx context.Context, tenantID string, d activity.PassCheckDecided) error {
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode %s: %w", d.Name(), err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := l.writer.Do(ctx, eventstore.Event{
		ID: id, TenantID: tenantID, StreamID: PassCheckStreamPrefix + id, Version: 1, Type: d.Name(),
		CorrelationID: correlation.ID(ctx), Payload: payload,
	}); err != nil {
		return fmt.Errorf("record %s: %w", d.Name(), err)
	}
	return nil
}
