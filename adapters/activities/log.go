// Package activities records Journey Builder's lifecycle calls in the event store.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/activity"
)

// StreamPrefix starts the stream id of every lifecycle call.
const StreamPrefix = "activity-"

// StreamID is the stream of the calls with the key (activity.Lifecycle.Key): it holds one event, at version 1.
// The event store's unique (tenant, stream, version) is what deduplicates, in the database, so a resend racing
// the first call, on this instance or another, records nothing more. Events stored before this rule live in
// "activity-{activityObjectID}" streams with growing versions; they stay readable and are not rewritten.
func StreamID(call activity.Lifecycle) string { return StreamPrefix + call.Key() }

// Log implements command.ActivityLog on the event store.
type Log struct {
	events *eventstore.Store
}

var _ command.ActivityLog = (*Log)(nil)

// NewLog returns an activity log over events.
func NewLog(events *eventstore.Store) (*Log, error) {
	if events == nil {
		return nil, errors.New("new activity log: nil event store")
	}
	return &Log{events: events}, nil
}

// Append implements command.ActivityLog: a version conflict on the call's stream means the call is recorded.
func (l *Log) Append(ctx context.Context, tenantID string, call activity.Lifecycle) (bool, error) {
	payload, err := json.Marshal(call)
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", call.Name(), err)
	}
	_, err = l.events.Append(ctx, []eventstore.Event{{
		TenantID: tenantID, StreamID: StreamID(call), Version: 1, Type: call.Name(),
		CorrelationID: correlation.ID(ctx), Payload: payload,
	}})
	if errors.Is(err, eventstore.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
