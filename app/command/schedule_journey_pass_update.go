package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// ScheduleJourneyPassUpdate asks for one pass to take one contact entry's update. It travels on the command bus.
type ScheduleJourneyPassUpdate struct {
	TenantID      string                 `json:"tenantId"`
	PassID        string                 `json:"passId"`
	Update        pass.UpdateFromJourney `json:"update"`
	CorrelationID string                 `json:"correlationId"`
}

// ScheduleJourneyPassUpdateHandler handles ScheduleJourneyPassUpdate.
type ScheduleJourneyPassUpdateHandler struct {
	passes pass.Repository
}

// NewScheduleJourneyPassUpdateHandler returns a handler that stores passes in passes.
func NewScheduleJourneyPassUpdateHandler(passes pass.Repository) ScheduleJourneyPassUpdateHandler {
	if passes == nil {
		panic("nil pass repository")
	}
	return ScheduleJourneyPassUpdateHandler{passes: passes}
}

// Handle records PassUpdateScheduled, once per contact entry: the pass decides what is a resend.
func (h ScheduleJourneyPassUpdateHandler) Handle(ctx context.Context, cmd *ScheduleJourneyPassUpdate) error {
	err := h.passes.Update(ctx, cmd.TenantID, cmd.PassID, func(p *pass.Pass) error {
		_, err := p.ScheduleUpdate(cmd.Update)
		return err
	})
	if err != nil {
		return fmt.Errorf("schedule update of pass %s for entry %s: %w", cmd.PassID, cmd.Update.EntryKey(), err)
	}
	return nil
}

// PartitionKey keeps the commands of one pass in order on the command bus.
func (c ScheduleJourneyPassUpdate) PartitionKey() string { return c.TenantID + "/" + c.PassID }
