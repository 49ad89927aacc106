package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// PushUpdate is one scheduled update on its way to a pass's channels.
type PushUpdate struct {
	// EventID is the id of the PassUpdateScheduled event: the same on every retry, so a receiver can dedupe.
	EventID              string            `json:"eventId"`
	TenantID             string            `json:"tenantId"`
	PassID               string            `json:"passId"`
	PassType             string            `json:"passType"`
	Version              int               `json:"version"`
	Data                 map[string]string `json:"data"`
	Message              string            `json:"message"`
	JourneyID            string            `json:"journeyId"`
	ActivityID           string            `json:"activityId"`
	DefinitionInstanceID string            `json:"definitionInstanceId"`
}

// Channel delivers updates to one kind of receiver: the tenant's webhook, APNs, Google Wallet.
type Channel interface {
	// Name identifies the channel in results, e.g. "webhook".
	Name() string
	// Push delivers the update. An error that wraps ErrRetryable may succeed later (5xx, 429, a timeout); any
	// other error is final.
	Push(ctx context.Context, u PushUpdate) error
}

// ErrRetryable marks a push error worth retrying.
var ErrRetryable = errors.New("retryable")

// ChannelDirectory says which channels a pass has.
type ChannelDirectory interface {
	Channels(ctx context.Context, tenantID, passID string) ([]Channel, error)
}

// DeliverPushUpdate is one attempt to deliver an update to the channels that have not taken it yet.
type DeliverPushUpdate struct {
	Update PushUpdate
	// Delivered names the channels an earlier attempt delivered to; they are not pushed again.
	Delivered map[string]bool
}

// DeliveryAttempt is what one attempt did, per channel pushed.
type DeliveryAttempt struct {
	Results []pass.ChannelResult
	// Retryable is true when a channel failed with a retryable error; Failed when one failed for good.
	Retryable bool
	Failed    bool
}

// DeliverPushUpdateHandler handles DeliverPushUpdate.
type DeliverPushUpdateHandler struct {
	channels ChannelDirectory
}

// NewDeliverPushUpdateHandler returns a handler that delivers through the directory's channels.
func NewDeliverPushUpdateHandler(channels ChannelDirectory) DeliverPushUpdateHandler {
	if channels == nil {
		panic("nil channel directory")
	}
	return DeliverPushUpdateHandler{channels: channels}
}

// Handle pushes the update to every channel not yet delivered to. A pass with no channel is delivered at once.
func (h DeliverPushUpdateHandler) Handle(ctx context.Context, cmd DeliverPushUpdate) (DeliveryAttempt, error) {
	channels, err := h.channels.Channels(ctx, cmd.Update.TenantID, cmd.Update.PassID)
	if err != nil {
		return DeliveryAttempt{}, fmt.Errorf("channels of pass %s: %w", cmd.Update.PassID, err)
	}
	var attempt DeliveryAttempt
	for _, ch := range channels {
		if cmd.Delivered[ch.Name()] {
			continue
		}
		result := pass.ChannelResult{Channel: ch.Name(), Delivered: true}
		if err := ch.Push(ctx, cmd.Update); err != nil {
			result.Delivered = false
			result.Detail = err.Error()
			if errors.Is(err, ErrRetryable) {
				attempt.Retryable = true
			} else {
				attempt.Failed = true
			}
		}
		attempt.Results = append(attempt.Results, result)
	}
	return attempt, nil
}
