package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/activity"
)

// RecordActivityLifecycle records a Journey Builder lifecycle call (save, validate, publish, stop, unpublish).
type RecordActivityLifecycle struct {
	TenantID string
	Call     activity.Lifecycle
}

// ActivityLog appends lifecycle events to the activity's stream.
type ActivityLog interface {
	Append(ctx context.Context, tenantID string, call activity.Lifecycle) error
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

// Handle validates the call's format and records it.
func (h RecordActivityLifecycleHandler) Handle(ctx context.Context, cmd RecordActivityLifecycle) error {
	if err := cmd.Call.Validate(); err != nil {
		return err
	}
	if err := h.log.Append(ctx, cmd.TenantID, cmd.Call); err != nil {
		return fmt.Errorf("record %s of activity %s: %w", cmd.Call.Stage, cmd.Call.StreamKey(), err)
	}
	return nil
}
