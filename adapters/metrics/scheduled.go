package metrics

import (
	"context"

	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/command"
)

// CountScheduled wraps the handler of ScheduleJourneyPassUpdates so that each batch it stores counts its updates
// per tenant in passpush_pass_updates_scheduled_total. The label is the tenant's id, which the HTTP port has
// checked against the tenants: never a pass id, an email or a journey id, which would make a series each.
func (m *Metrics) CountScheduled(h app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates]) app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates] {
	return countScheduled{base: h, metrics: m}
}

type countScheduled struct {
	base    app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates]
	metrics *Metrics
}

func (c countScheduled) Handle(ctx context.Context, cmd *command.ScheduleJourneyPassUpdates) error {
	if err := c.base.Handle(ctx, cmd); err != nil {
		return err
	}
	// A batch holds few tenants, in runs: one series lookup per run.
	for i := 0; i < len(cmd.Updates); {
		j := i + 1
		for j < len(cmd.Updates) && cmd.Updates[j].TenantID == cmd.Updates[i].TenantID {
			j++
		}
		c.metrics.ScheduledUpdates(cmd.Updates[i].TenantID, j-i)
		i = j
	}
	return nil
}
