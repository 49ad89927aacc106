package command

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// RedriveFailedDeliveries queues a tenant's failed updates again, for the channels that failed them, and records
// a DeliveryRedriven with the operator's reason for each. The filters are those of query.FailedDeliveries.
type RedriveFailedDeliveries struct {
	TenantID  string
	JourneyID string
	// Channel redrives only this channel of each update; empty means every channel that failed.
	Channel string
	Since   time.Time
	Reason  string
	// DryRun finds what would be redriven and changes nothing.
	DryRun bool
	// Redriven, when set, is told of each update as it is redriven (with DryRun, as it is found), so a caller
	// can show progress without the handler keeping a list of every one.
	Redriven func(query.FailedDelivery)
}

// RedriveResult says what a redrive did.
type RedriveResult struct {
	// Redriven counts the updates queued again (with DryRun, those that would be).
	Redriven int
	// Skipped counts the updates listed as failed that were not queued: another redrive queued them first.
	Skipped int
}

// FailedDeliveriesFinder lists failed deliveries a page at a time: query.FailedDeliveriesHandler.
type FailedDeliveriesFinder interface {
	Handle(ctx context.Context, q query.FailedDeliveries) (query.FailedDeliveriesPage, error)
}

// DeliveryRedriver queues failed updates of some passes again. It loads the passes and calls redrive with each
// (again after a version conflict, so redrive must have no side effects beyond the pass), then stores the
// DeliveryRedriven events redrive recorded and queues each redriven update's delivery, all in one transaction:
// an event exists exactly when its delivery was queued.
type DeliveryRedriver interface {
	Redrive(ctx context.Context, tenantID string, passIDs []string, redrive func(p *pass.Pass) error) error
}

// RedriveBatch is how many passes one redrive transaction takes: enough to spare a round trip per update, few
// enough that the transaction stays short (a long one holds back every subscriber on PostgreSQL).
const RedriveBatch = 100

// RedriveFailedDeliveriesHandler handles RedriveFailedDeliveries.
type RedriveFailedDeliveriesHandler struct {
	failed   FailedDeliveriesFinder
	redriver DeliveryRedriver
}

// NewRedriveFailedDeliveriesHandler returns a handler that finds failures with failed and queues them with
// redriver.
func NewRedriveFailedDeliveriesHandler(failed FailedDeliveriesFinder, redriver DeliveryRedriver) RedriveFailedDeliveriesHandler {
	if failed == nil || redriver == nil {
		panic("nil failed deliveries finder or delivery redriver")
	}
	return RedriveFailedDeliveriesHandler{failed: failed, redriver: redriver}
}

// Handle redrives each failed update the filters keep. The listing is only a guide: whether an update is still
// failed is decided by its pass, as its redrive is stored, so an update another redrive took first is skipped.
// What was redriven before an error stays redriven; running the redrive again picks up the rest.
func (h RedriveFailedDeliveriesHandler) Handle(ctx context.Context, cmd RedriveFailedDeliveries) (RedriveResult, error) {
	var result RedriveResult
	if cmd.TenantID == "" {
		return result, fmt.Errorf("%w: a tenant is required", pass.ErrInvalid)
	}
	if !cmd.DryRun {
		if err := (pass.Redrive{Reason: cmd.Reason, Channel: cmd.Channel}).Validate(); err != nil {
			return result, err
		}
	}
	q := query.FailedDeliveries{TenantID: cmd.TenantID, JourneyID: cmd.JourneyID, Channel: cmd.Channel, Since: cmd.Since}
	for {
		page, err := h.failed.Handle(ctx, q)
		if err != nil {
			return result, fmt.Errorf("redrive failed deliveries of tenant %s: %w", cmd.TenantID, err)
		}
		for batch := range slices.Chunk(page.Deliveries, RedriveBatch) {
			if err := h.redriveBatch(ctx, cmd, batch, &result); err != nil {
				return result, fmt.Errorf("redrive failed deliveries of tenant %s: %w", cmd.TenantID, err)
			}
		}
		if page.Next == "" {
			return result, nil
		}
		q.After = page.Next
	}
}

// redriveBatch redrives the failed updates of a batch in one transaction.
func (h RedriveFailedDeliveriesHandler) redriveBatch(ctx context.Context, cmd RedriveFailedDeliveries, batch []query.FailedDelivery, result *RedriveResult) error {
	if cmd.DryRun {
		for _, d := range batch {
			result.Redriven++
			h.tell(cmd, d)
		}
		return nil
	}
	ids, byPass := groupInOrder(batch, func(d query.FailedDelivery) string { return d.PassID })
	// What the last call of redrive found for each pass: a call after a version conflict replaces the earlier
	// one's, and only the calls of the transaction that commits count.
	redriven := map[string][]bool{}
	err := h.redriver.Redrive(ctx, cmd.TenantID, ids, func(p *pass.Pass) error {
		found := make([]bool, len(byPass[p.ID()]))
		for i, d := range byPass[p.ID()] {
			ok, err := p.RedriveDelivery(pass.Redrive{Revision: d.Revision, Channel: cmd.Channel, Reason: cmd.Reason})
			if err != nil {
				return fmt.Errorf("redrive update %s of pass %s: %w", d.EventID, d.PassID, err)
			}
			found[i] = ok
		}
		redriven[p.ID()] = found
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		for i, d := range byPass[id] {
			if redriven[id][i] {
				result.Redriven++
				h.tell(cmd, d)
			} else {
				result.Skipped++
			}
		}
	}
	return nil
}

func (h RedriveFailedDeliveriesHandler) tell(cmd RedriveFailedDeliveries, d query.FailedDelivery) {
	if cmd.Redriven != nil {
		if cmd.Channel != "" {
			d.Channels = onlyChannel(d.Channels, cmd.Channel)
		}
		cmd.Redriven(d)
	}
}

func onlyChannel(channels []query.FailedChannel, channel string) []query.FailedChannel {
	var kept []query.FailedChannel
	for _, c := range channels {
		if c.Channel == channel {
			kept = append(kept, c)
		}
	}
	return kept
}
