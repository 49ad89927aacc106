package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/pass"
)

// ErrNoMatchingPasses means a journey's contact has no pass that matches the activity's identifiers.
var ErrNoMatchingPasses = errors.New("no matching passes")

// PassMatch is what a PassMatcher matches: the identifiers of a contact entry, whose rules the domain keeps.
type PassMatch = pass.Identifiers

// ScheduleFromJourney is one Journey Builder execute call: a contact entry and the update it asks for.
type ScheduleFromJourney struct {
	TenantID string
	Match    PassMatch
	Update   pass.UpdateFromJourney
}

// Validate asks the domain whether the call names its passes and asks for an update a pass takes. Its errors wrap
// pass.ErrInvalid, and pass.ErrIdentifiers when the identifiers are refused.
func (c ScheduleFromJourney) Validate() error {
	if err := c.Match.Validate(); err != nil {
		return err
	}
	return c.Update.Validate()
}

// PassMatcher finds the ids of the tenant's passes that match.
type PassMatcher interface {
	Match(ctx context.Context, tenantID string, m PassMatch) ([]string, error)
}

// PassUpdateSender stores pass updates on the command bus and returns once they are durable. An error may leave
// some of them stored; sending them again is safe, since a pass ignores an entry it already has.
type PassUpdateSender interface {
	SendPassUpdates(ctx context.Context, updates ...ScheduleJourneyPassUpdate) error
}

// ScheduleFromJourneyHandler handles ScheduleFromJourney.
type ScheduleFromJourneyHandler struct {
	passes   PassMatcher
	commands PassUpdateSender
}

// NewScheduleFromJourneyHandler returns a handler that matches passes in passes and sends on commands.
func NewScheduleFromJourneyHandler(passes PassMatcher, commands PassUpdateSender) ScheduleFromJourneyHandler {
	if passes == nil || commands == nil {
		panic("nil pass matcher or command sender")
	}
	return ScheduleFromJourneyHandler{passes: passes, commands: commands}
}

// Handle sends one ScheduleJourneyPassUpdate per matching pass and returns how many. When it returns without
// error the commands are stored; a resent call sends them again and the passes ignore the duplicates.
func (h ScheduleFromJourneyHandler) Handle(ctx context.Context, call ScheduleFromJourney) (int, error) {
	if err := call.Validate(); err != nil {
		return 0, err
	}
	ids, err := h.passes.Match(ctx, call.TenantID, call.Match)
	if err != nil {
		return 0, fmt.Errorf("match passes: %w", err)
	}
	if len(ids) == 0 {
		return 0, ErrNoMatchingPasses
	}
	commands := make([]ScheduleJourneyPassUpdate, len(ids))
	for i, id := range ids {
		commands[i] = ScheduleJourneyPassUpdate{
			TenantID:      call.TenantID,
			PassID:        id,
			Update:        call.Update,
			CorrelationID: correlation.ID(ctx),
		}
	}
	if err := h.commands.SendPassUpdates(ctx, commands...); err != nil {
		return 0, fmt.Errorf("send %d pass updates: %w", len(commands), err)
	}
	return len(ids), nil
}
