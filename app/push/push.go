// Package push takes one scheduled update to a pass's channels: the port that each channel (the tenant's webhook,
// APNs, Google Wallet) implements, and the fan-out that the delivery stage calls for each attempt. It changes no
// state: what an attempt did is recorded by command.RecordPushOutcomes.
package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// Update is one scheduled update on its way to a pass's channels.
type Update struct {
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
	Push(ctx context.Context, u Update) error
}

// ErrRetryable marks a push error worth retrying.
var ErrRetryable = errors.New("retryable")

// ChannelDirectory says which channels a pass has.
type ChannelDirectory interface {
	Channels(ctx context.Context, tenantID, passID string) ([]Channel, error)
}

// Attempt is what one attempt did, per channel pushed.
type Attempt struct {
	Results []pass.ChannelResult
	// Retryable is true when a channel failed with a retryable error; Failed when one failed for good.
	Retryable bool
	Failed    bool
}

// FanOut pushes an update to each of its pass's channels.
type FanOut struct {
	channels ChannelDirectory
}

// NewFanOut returns a fan-out through the directory's channels.
func NewFanOut(channels ChannelDirectory) FanOut {
	if channels == nil {
		panic("nil channel directory")
	}
	return FanOut{channels: channels}
}

// Push pushes the update to every channel of its pass that delivered does not name: an earlier attempt
// delivered to those, and they are not pushed again. A pass with no channel is delivered at once.
func (f FanOut) Push(ctx context.Context, u Update, delivered map[string]bool) (Attempt, error) {
	channels, err := f.channels.Channels(ctx, u.TenantID, u.PassID)
	if err != nil {
		return Attempt{}, fmt.Errorf("channels of pass %s: %w", u.PassID, err)
	}
	var attempt Attempt
	for _, ch := range channels {
		if delivered[ch.Name()] {
			continue
		}
		result := pass.ChannelResult{Channel: ch.Name(), Delivered: true}
		if err := ch.Push(ctx, u); err != nil {
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
