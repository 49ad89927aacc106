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

// StreamPrefix starts the stream id of every activity.
const StreamPrefix = "activity-"

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

// Append implements command.ActivityLog. Lifecycle calls never conflict in meaning, so on a version conflict it
// simply takes the next version.
func (l *Log) Append(ctx context.Context, tenantID string, call activity.Lifecycle) error {
	payload, err := json.Marshal(call)
	if err != nil {
		return fmt.Errorf("encode %s: %w", call.Name(), err)
	}
	stream := StreamPrefix + call.StreamKey()
	return eventstore.RetryConflicts(func(bool) error {
		version, err := l.events.StreamVersion(ctx, tenantID, stream)
		if err != nil {
			return err
		}
		_, err = l.events.Append(ctx, []eventstore.Event{{
			TenantID: tenantID, StreamID: stream, Version: version + 1, Type: call.Name(),
			CorrelationID: correlation.ID(ctx), Payload: payload,
		}})
		return err
	})
}
