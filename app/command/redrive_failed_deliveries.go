package command

import (
	"context"
	"fmt"
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

// FailedDeliveriesFinder lists failed deliveries page by page: query.FailedDeliveriesHandler.
type FailedDeliveriesFinder interface {
	Each(ctx context.Context, q query.FailedDeliveries, fn func(query.FailedDelivery) error) error
}

// DeliveryRedriver queues one pass's failed update again. It loads the pass, calls redrive, and when redrive
// recorded a DeliveryRedriven it stores the event and queues the update's delivery in one transaction, so the
// event exists exactly when the delivery was queued. It reports whether it did.
type DeliveryRedriver interface {
	Redrive(ctx context.Context, tenantID, passID string, redrive func(p *pass.Pass) (bool, error)) (bool, error)
}

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
	err := h.failed.Each(ctx, q, func(d query.FailedDelivery) error {
		if cmd.DryRun {
			result.Redriven++
			h.tell(cmd, d)
			return nil
		}
		redriven, err := h.redriver.Redrive(ctx, cmd.TenantID, d.PassID, func(p *pass.Pass) (bool, error) {
			return p.RedriveDelivery(pass.Redrive{Revision: d.Revision, Channel: cmd.Channel, Reason: cmd.Reason})
		})
		switch {
		case err != nil:
			return fmt.Errorf("redrive update %s of pass %s: %w", d.EventID, d.PassID, err)
		case redriven:
			result.Redriven++
			h.tell(cmd, d)
		default:
			result.Skipped++
		}
		return nil
	})
	if err != nil {
		return result, fmt.Errorf("redrive failed deliveries of tenant %s: %w", cmd.TenantID, err)
	}
	return result, nil
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
