package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
	"github.com/sirupsen/logrus"
)

// ScheduleJourneyPassUpdate asks for one pass to take one contact entry's update.
type ScheduleJourneyPassUpdate struct {
	TenantID      string                 `json:"tenantId"`
	PassID        string                 `json:"passId"`
	Update        pass.UpdateFromJourney `json:"update"`
	CorrelationID string                 `json:"correlationId"`
}

// PartitionKey keeps the commands of one pass in order on the command bus.
func (c ScheduleJourneyPassUpdate) PartitionKey() string { return c.TenantID + "/" + c.PassID }

// ScheduleJourneyPassUpdates is what travels on the command bus: the ScheduleJourneyPassUpdate commands of the
// execute calls that were stored together, in the order they were sent, all of one partition. Handling them
// together costs one load and one append for the lot instead of a transaction's worth of round trips each.
type ScheduleJourneyPassUpdates struct {
	Updates []ScheduleJourneyPassUpdate `json:"updates"`
}

// PartitionKey implements the bus's partitioning: every update of the batch has the same partition, so the first
// one's key picks it.
func (c ScheduleJourneyPassUpdates) PartitionKey() string {
	if len(c.Updates) == 0 {
		return ""
	}
	return c.Updates[0].PartitionKey()
}

// ScheduleJourneyPassUpdatesHandler handles ScheduleJourneyPassUpdates.
type ScheduleJourneyPassUpdatesHandler struct {
	passes pass.Repository
	log    *logrus.Entry
}

// NewScheduleJourneyPassUpdatesHandler returns a handler that stores passes in passes.
func NewScheduleJourneyPassUpdatesHandler(passes pass.Repository, log *logrus.Entry) ScheduleJourneyPassUpdatesHandler {
	if passes == nil || log == nil {
		panic("nil pass repository or log")
	}
	return ScheduleJourneyPassUpdatesHandler{passes: passes, log: log}
}

// Handle records PassUpdateScheduled, once per contact entry (the pass decides what is a resend), for every update
// of the batch, one tenant at a time, in the order they were sent.
//
// An update the pass refuses can never succeed, so it is logged and skipped rather than failing the batch: a
// retried or poisoned batch would hold back or drop the other calls' updates. Only a storage error fails it.
func (h ScheduleJourneyPassUpdatesHandler) Handle(ctx context.Context, cmd *ScheduleJourneyPassUpdates) error {
	tenants, byTenant := groupInOrder(cmd.Updates, func(u ScheduleJourneyPassUpdate) string { return u.TenantID })
	for _, tenantID := range tenants {
		if err := h.schedule(ctx, tenantID, byTenant[tenantID]); err != nil {
			return err
		}
	}
	return nil
}

func (h ScheduleJourneyPassUpdatesHandler) schedule(ctx context.Context, tenantID string, updates []ScheduleJourneyPassUpdate) error {
	ids, byPass := groupInOrder(updates, func(u ScheduleJourneyPassUpdate) string { return u.PassID })
	// The repository calls update again after a version conflict, so what a pass refused is collected afresh.
	refused := make(map[string][]error)
	err := h.passes.UpdateAll(ctx, tenantID, ids, func(p *pass.Pass) error {
		refused[p.ID()] = nil
		for _, u := range byPass[p.ID()] {
			update := u.Update
			update.CorrelationID = u.CorrelationID
			if _, err := p.ScheduleUpdate(update); err != nil {
				if !errors.Is(err, pass.ErrInvalid) && !errors.Is(err, pass.ErrNotFound) {
					return err
				}
				refused[p.ID()] = append(refused[p.ID()], fmt.Errorf("pass %s, entry %s, correlation %s: %w", u.PassID, update.EntryKey(), u.CorrelationID, err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schedule %d updates of tenant %s: %w", len(updates), tenantID, err)
	}
	for _, id := range ids {
		for _, err := range refused[id] {
			h.log.WithContext(ctx).WithField("tenant_id", tenantID).WithError(err).Error("pass update refused; skipped")
		}
	}
	return nil
}

// groupInOrder groups items by key, keeping their order within each group, and returns the keys in the order
// they first appear: a batch's commands are applied per pass (or tenant) in the order they were sent.
func groupInOrder[T any](items []T, key func(T) string) ([]string, map[string][]T) {
	var keys []string
	groups := make(map[string][]T)
	for _, item := range items {
		k := key(item)
		if _, seen := groups[k]; !seen {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], item)
	}
	return keys, groups
}
