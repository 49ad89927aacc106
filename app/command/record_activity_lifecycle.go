package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/activity"
)

// RecordActivityLifecycle records a Journey Builder lifecycle call (save, validate, publish, stop, unpublish)
// whose JWT verified. The port never hands it an unsigned call: nothing unauthenticated is stored.
type RecordActivityLifecycle struct {
	TenantID string
	Call     activity.Lifecycle
}

// LifecycleOutcome says what became of a lifecycle call.
type LifecycleOutcome string

const (
	// LifecycleRecorded: the call is a new event.
	LifecycleRecorded LifecycleOutcome = "recorded"
	// LifecycleDuplicate: the same stage of the same activity and journey version was recorded before.
	LifecycleDuplicate LifecycleOutcome = "duplicate"
	// LifecycleUnidentified: the call names neither its activity nor its journey, so nothing is recorded.
	LifecycleUnidentified LifecycleOutcome = "unidentified"
)

// ActivityLog appends lifecycle events, once per activity.Lifecycle.Key.
type ActivityLog interface {
	// Append records the call unless a call with the same key is already recorded, and says whether it did.
	// Two appends of the same key at once, from any instance, record one event.
	Append(ctx context.Context, tenantID string, call activity.Lifecycle) (appended bool, err error)
}

// RecordActivityLifecycleHandler handles RecordActivityLifecycle.
type RecordActivityLifecycleHandler struct {
	log ActivityLog
}

// NewRecordActivityLifecycleHandler returns a handler that appends to log.
func NewRecordActivityLifecycleHandler(log ActivityLog) RecordActivityLifecycleHandler {
	if log == nil {
		panic("nil activity log")
	}
	return RecordActivityLifecycleHandler{log: log}
}

// Handle validates the call's format and records it once.
func (h RecordActivityLifecycleHandler) Handle(ctx context.Context, cmd RecordActivityLifecycle) (LifecycleOutcome, error) {
	if err := cmd.Call.Validate(); err != nil {
		return "", err
	}
	if !cmd.Call.Identified() {
		return LifecycleUnidentified, nil
	}
	appended, err := h.log.Append(ctx, cmd.TenantID, cmd.Call)
	if err != nil {
		return "", fmt.Errorf("record %s of activity %s: %w", cmd.Call.Stage, cmd.Call.Key(), err)
	}
	if !appended {
		return LifecycleDuplicate, nil
	}
	return LifecycleRecorded, nil
}
