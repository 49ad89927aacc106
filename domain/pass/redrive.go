package pass

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// FailedPush is a revision whose last outcome is PushUpdateFailed, with each channel's result as it ended.
type FailedPush struct {
	Revision         int             `json:"revision"`
	ScheduledEventID string          `json:"scheduledEventId"`
	JourneyID        string          `json:"journeyId"`
	Channels         []ChannelResult `json:"channels"`
}

// MaxRedriveReasonLength caps an operator's reason, which every DeliveryRedriven of a redrive repeats.
const MaxRedriveReasonLength = 500

// ChannelFailed is the outcome of a channel that settled on a failure, as ChannelResult.Outcome records it.
const ChannelFailed = "failed"

// Redrive is an operator's request to deliver a failed update again.
type Redrive struct {
	Revision int
	// Channel limits the redrive to one channel; empty means every channel that failed.
	Channel string
	Reason  string
}

// Validate checks what does not depend on the pass: the reason is required, so the audit log says why.
func (r Redrive) Validate() error {
	switch {
	case strings.TrimSpace(r.Reason) == "":
		return fmt.Errorf("%w: a redrive needs a reason", ErrInvalid)
	case utf8.RuneCountInString(r.Reason) > MaxRedriveReasonLength:
		return fmt.Errorf("%w: a redrive's reason must be at most %d characters", ErrInvalid, MaxRedriveReasonLength)
	}
	return ValidateText(r.Reason, r.Channel)
}

// RedriveDelivery records DeliveryRedriven for a revision whose last outcome is a failure, for the channels that
// failed (only r.Channel, when set). It reports false, and records nothing, for a revision that did not fail,
// that a redrive already queued again (until that one fails too), or that delivered since: so a redrive run
// twice, or two at once, queue an update once. A channel that delivered, was superseded or is not installed
// keeps its outcome and is not pushed again; a redriven channel keeps the targets that took the update, and
// pushes only the others.
func (p *Pass) RedriveDelivery(r Redrive) (redriven bool, err error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	f, ok := p.failed[r.Revision]
	if !ok {
		return false, nil
	}
	progress := make([]ChannelResult, len(f.Channels))
	var channels []string
	for i, c := range f.Channels {
		progress[i] = c
		if !c.FailedForGood() || (r.Channel != "" && c.Channel != r.Channel) {
			continue
		}
		channels = append(channels, c.Channel)
		// Attempts stays: it says the channel was pushed before, which keeps it in the results even if the
		// tenant stops using it meanwhile.
		progress[i] = ChannelResult{Channel: c.Channel, Attempts: c.Attempts, Pushed: slices.Clone(c.Pushed),
			Removed: slices.Clone(c.Removed), RemovedReasons: c.RemovedReasons}
	}
	if len(channels) == 0 {
		return false, nil
	}
	p.record(DeliveryRedriven{
		Revision: r.Revision, ScheduledEventID: f.ScheduledEventID, JourneyID: f.JourneyID, Reason: r.Reason,
		Channels: channels, Progress: progress, Superseded: r.Revision < p.revision,
	})
	return true, nil
}

// FailedForGood reports whether a channel's part of a delivery failed: it settled as failed, or, in an outcome
// recorded before channels had outcomes, it did not deliver. That is the part a redrive pushes again.
func (c ChannelResult) FailedForGood() bool {
	return c.Outcome == ChannelFailed || (c.Outcome == "" && !c.Delivered)
}
