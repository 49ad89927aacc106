package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// PassPushOutcome is the outcome of one pass's delivery.
type PassPushOutcome struct {
	PassID  string
	Outcome pass.PushOutcome
}

// RecordPushOutcomes records PushUpdateEmitted or PushUpdateFailed for many passes of one tenant at once.
type RecordPushOutcomes struct {
	TenantID string
	Outcomes []PassPushOutcome
}

// RecordPushOutcomesHandler handles RecordPushOutcomes.
type RecordPushOutcomesHandler struct {
	passes pass.Repository
}

// NewRecordPushOutcomesHandler returns a handler that stores passes in passes.
func NewRecordPushOutcomesHandler(passes pass.Repository) RecordPushOutcomesHandler {
	if passes == nil {
		panic("nil pass repository")
	}
	return RecordPushOutcomesHandler{passes: passes}
}

// Handle records each outcome once; the pass ignores an outcome it already has.
func (h RecordPushOutcomesHandler) Handle(ctx context.Context, cmd RecordPushOutcomes) error {
	ids, byPass := groupInOrder(cmd.Outcomes, func(o PassPushOutcome) string { return o.PassID })
	err := h.passes.UpdateAll(ctx, cmd.TenantID, ids, func(p *pass.Pass) error {
		for _, o := range byPass[p.ID()] {
			if _, err := p.RecordPush(o.Outcome); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d push outcomes of tenant %s: %w", len(cmd.Outcomes), cmd.TenantID, err)
	}
	return nil
}
