// Package push takes one scheduled update to a pass's channels: the port that each channel (the tenant's webhook,
// APNs, Google Wallet) implements, and the fan-out that the delivery stage calls for each attempt. It changes no
// state: what an attempt did is recorded by command.RecordPushOutcomes.
//
// A channel reaches a pass through targets (one webhook; each registered device; one Google object), and every
// target has its own outcome. Progress is kept per target with the delivery, so a retry pushes only the targets
// still missing, and one channel's final failure never cancels another channel's retry.
package push

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/passpush/passpush/domain/pass"
)

// Update is one scheduled update on its way to a pass's channels. Each channel encodes it its own way: the
// webhook's JSON body and the delivery queue's row are theirs, not this type's.
type Update struct {
	// EventID is the id of the PassUpdateScheduled event: the same on every retry, so a receiver can dedupe.
	EventID  string
	TenantID string
	PassID   string
	PassType string
	// Revision is the pass's revision that the update produced.
	Revision             int
	Data                 map[string]string
	Message              string
	JourneyID            string
	ActivityID           string
	DefinitionInstanceID string
}

// Target is one receiver of a channel's pushes for a pass: the tenant's webhook, a registered device.
type Target struct {
	// ID identifies the target within its channel and stays the same across attempts: progress is kept by it.
	ID string
	// Credential names the credential the push is made with, e.g. a Pass Type ID; empty when there is one.
	Credential string
	// Address is where the push goes, e.g. a push token; empty when the credential says.
	Address string
}

// OutcomeKind is what a push to one target did.
type OutcomeKind string

const (
	// Delivered: the target took the update.
	Delivered OutcomeKind = "delivered"
	// Retry: the push may succeed later (a 5xx, a 429, a timeout).
	Retry OutcomeKind = "retry"
	// Gone: the target no longer exists and is forgotten; the update counts as delivered for it.
	Gone OutcomeKind = "gone"
	// Rejected: the push failed for good.
	Rejected OutcomeKind = "rejected"
	// NotInstalled: the pass is not installed at the target (a Google object the customer never saved). It is not
	// pushed again; a channel whose every target answers so settles as not_installed.
	NotInstalled OutcomeKind = "not_installed"
)

// Outcome is what a push to one target did, and why, for anything but Delivered.
type Outcome struct {
	Kind   OutcomeKind
	Reason string
	// After, on a Retry, says that the channel is holding the push back, not failing: its rate limit gives the
	// target its turn after this long. Such a retry does not count as a failed attempt.
	After time.Duration
}

// Channel delivers updates to one kind of receiver.
type Channel interface {
	// Kind names the channel in results: "webhook", "apple", "google".
	Kind() string
	// Targets lists the pass's targets on this channel. No targets means the pass is not installed there;
	// ErrNotSetUp means the tenant does not use the channel for this pass, which leaves it out of the results.
	Targets(ctx context.Context, tenantID, passID string) ([]Target, error)
	// Push delivers the update to one target.
	Push(ctx context.Context, t Target, u Update) Outcome
}

// LatestOnly is implemented by a channel that needs only a pass's latest state, as a wallet does: an update
// that a later one of the same pass already follows in the queue is recorded as superseded there, not pushed.
// Other channels get every update, in order.
type LatestOnly interface {
	LatestOnly() bool
}

// RateLimited is implemented by a channel whose rate limit holds updates back for their turn, as Google's
// per-tenant quota does. The fan-out asks it first: an update whose turn is far then costs the channel nothing
// else (no targets listed, nothing read), and the delivery comes back for its turn, claimed once more.
type RateLimited interface {
	// HoldBack returns how long until the update's turn, which it keeps for the update's next attempt, when the
	// turn is too far away to wait for; 0 to push now, which includes every case the channel cannot tell (not
	// set up for the update, an error): the push decides then.
	HoldBack(ctx context.Context, u Update) time.Duration
}

// StoreRetry is how soon an update comes back when its targets could not be read.
const StoreRetry = time.Second

// ErrNotSetUp is returned by Channel.Targets when the tenant has not set the channel up for the pass.
var ErrNotSetUp = errors.New("channel not set up")

// The outcomes of a channel that has settled, as pass.ChannelResult.Outcome records them.
const (
	ChannelDelivered    = "delivered"
	ChannelFailed       = "failed"
	ChannelNotInstalled = "not_installed"
	ChannelSuperseded   = "superseded"
)

// Delivery is one update queued for its pass's channels, with what earlier attempts did.
type Delivery struct {
	Update Update
	// CorrelationID is the id of the call that scheduled the update: the outcome event and the attempt's log
	// lines carry it.
	CorrelationID string
	// Attempts is how many attempts were made before this one.
	Attempts int
	// Progress is each channel's result so far. A channel whose Outcome is set has settled and is not pushed again.
	Progress []pass.ChannelResult
	// Superseded is true when a later update of the same pass is queued behind this one.
	Superseded bool
}

// Rescheduled is a delivery made due again at At, keeping its progress, after an attempt that failed with
// LastError or that a channel's rate limit held back.
type Rescheduled struct {
	Delivery  Delivery
	At        time.Time
	LastError string
}

// Attempt is what one attempt did.
type Attempt struct {
	// Progress is each channel's result after the attempt.
	Progress []pass.ChannelResult
	// Pending is true while a channel waits for a retry. Otherwise every channel has settled.
	Pending bool
	// Throttled is true when every channel that waits is held back by its rate limit, not failing: the retry
	// is due after RetryAfter, and is no failed attempt.
	Throttled  bool
	RetryAfter time.Duration
	// RetryAt is when the turn that RetryAfter counts to comes: the time the channel gave, not counted from the
	// end of the attempt, which the other channels' pushes may have made later.
	RetryAt time.Time
}

// Failed reports whether a settled channel failed.
func (a Attempt) Failed() bool {
	return slices.ContainsFunc(a.Progress, func(r pass.ChannelResult) bool { return r.Outcome == ChannelFailed })
}

// Why lists the channels that have not delivered, with their reasons.
func (a Attempt) Why() string {
	var parts []string
	for _, r := range a.Progress {
		if !r.Delivered {
			parts = append(parts, r.Channel+": "+r.Detail)
		}
	}
	return strings.Join(parts, "; ")
}

// GiveUp settles every channel still pending as failed, after the last attempt.
func (a Attempt) GiveUp(reason string) Attempt {
	for i, r := range a.Progress {
		if r.Outcome == "" {
			a.Progress[i].Outcome = ChannelFailed
			a.Progress[i].Detail = strings.TrimPrefix(reason+": "+r.Detail, ": ")
		}
	}
	a.Pending = false
	return a
}

// FanOut pushes an update to each of its pass's channels.
type FanOut struct {
	channels []Channel
	// targetConcurrency bounds the pushes in flight for one channel of one update: a pass on many devices.
	targetConcurrency int
}

// NewFanOut returns a fan-out through channels, whose kinds must differ.
func NewFanOut(channels ...Channel) (FanOut, error) {
	kinds := map[string]bool{}
	for _, ch := range channels {
		if ch == nil || ch.Kind() == "" || kinds[ch.Kind()] {
			return FanOut{}, errors.New("new fan-out: every channel must be set and of its own kind")
		}
		kinds[ch.Kind()] = true
	}
	return FanOut{channels: channels, targetConcurrency: 16}, nil
}

// Push pushes d to each channel that has not settled, and to each of its targets still missing. Channels are
// pushed concurrently; each settles on its own.
func (f FanOut) Push(ctx context.Context, d Delivery) Attempt {
	results := make([]channelAttempt, len(f.channels))
	var wg sync.WaitGroup
	for i, ch := range f.channels {
		previous, seen := findResult(d.Progress, ch.Kind())
		if seen && previous.Outcome != "" {
			results[i] = channelAttempt{ChannelResult: previous, include: true}
			continue
		}
		wg.Go(func() { results[i] = f.pushChannel(ctx, ch, d, previous) })
	}
	wg.Wait()
	a := Attempt{Throttled: true}
	for _, c := range results {
		if !c.include {
			continue
		}
		a.Progress = append(a.Progress, c.ChannelResult)
		if c.Outcome == "" {
			a.Pending = true
			a.Throttled = a.Throttled && c.throttled
			a.RetryAfter = max(a.RetryAfter, c.after)
			if c.at.After(a.RetryAt) {
				a.RetryAt = c.at
			}
		}
	}
	a.Throttled = a.Throttled && a.Pending
	// A channel that was pushed before and is no longer set up keeps its record.
	for _, r := range d.Progress {
		if _, ok := findResult(a.Progress, r.Channel); !ok {
			a.Progress = append(a.Progress, r)
		}
	}
	return a
}

// channelAttempt is what one attempt did on one channel.
type channelAttempt struct {
	pass.ChannelResult
	// include is false for a channel the tenant does not use for the pass.
	include bool
	// throttled is true when the channel waits only for its rate limit, which gives it a turn after after.
	throttled bool
	after     time.Duration
	at        time.Time // when after ends
}

// holdBack asks a rate-limited channel whether the update waits for its turn. A superseded update is not
// pushed to a channel that needs only the latest state, so it takes no turn.
func holdBack(ctx context.Context, ch Channel, d Delivery, r channelAttempt) (channelAttempt, bool) {
	limited, ok := ch.(RateLimited)
	if latest, isLatest := ch.(LatestOnly); !ok || (isLatest && latest.LatestOnly() && d.Superseded) {
		return r, false
	}
	after := limited.HoldBack(ctx, d.Update)
	if after <= 0 {
		return r, false
	}
	r.Detail = "held back by the channel's rate limit"
	r.throttled, r.after, r.at = true, after, time.Now().Add(after)
	return r, true
}

// pushChannel makes one attempt on one channel, from its result so far: it pushes to each target still missing,
// and settles the channel when none waits.
func (f FanOut) pushChannel(ctx context.Context, ch Channel, d Delivery, previous pass.ChannelResult) channelAttempt {
	r := channelAttempt{ChannelResult: previous, include: true}
	r.Channel = ch.Kind()
	if held, ok := holdBack(ctx, ch, d, r); ok {
		return held
	}
	// The targets are listed even for a superseded update: a channel the tenant has not set up stays out of the
	// results rather than being recorded as superseded.
	targets, err := ch.Targets(ctx, d.Update.TenantID, d.Update.PassID)
	latest, ok := ch.(LatestOnly)
	switch {
	case errors.Is(err, ErrNotSetUp):
		r.include = r.Attempts > 0
		return r
	case err != nil:
		// The targets could not be read: passpush's own store failed (down, restarting), not the channel. As an
		// execute call answers 503 then, the update waits for the store: it comes back in StoreRetry, spends none
		// of the channel's attempts and grows no backoff, so the pass's later updates queued behind it are not held
		// for minutes after the store is back.
		r.Detail = fmt.Sprintf("list targets: %v", err)
		r.throttled, r.after, r.at = true, StoreRetry, time.Now().Add(StoreRetry)
		return r
	case ok && latest.LatestOnly() && d.Superseded:
		return r.settle(ChannelSuperseded, "")
	case len(targets) == 0 && r.Attempts == 0:
		return r.settle(ChannelNotInstalled, "")
	}
	r.Attempts++
	// The reasons are filled in below; the map of an earlier attempt's result is not shared with it.
	r.RemovedReasons = maps.Clone(r.RemovedReasons)
	if r.RemovedReasons == nil {
		r.RemovedReasons = map[string]string{}
	}
	done := map[string]bool{}
	for _, id := range slices.Concat(r.Pushed, r.Removed, r.Failed) {
		done[id] = true
	}
	var mu sync.Mutex
	var retries []string
	throttled := true
	// sent is whether any push of this attempt went out: one that its rate limit held back sent nothing, and is
	// no attempt.
	sent := false
	notInstalled := 0
	sem := make(chan struct{}, f.targetConcurrency)
	var wg sync.WaitGroup
	for _, t := range targets {
		if done[t.ID] {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o := ch.Push(ctx, t, d.Update)
			mu.Lock()
			defer mu.Unlock()
			switch o.Kind {
			case Delivered:
				r.Pushed = append(r.Pushed, t.ID)
			case Gone:
				r.Removed = append(r.Removed, t.ID)
				if o.Reason != "" {
					r.RemovedReasons[t.ID] = o.Reason
				}
			case Rejected:
				r.Failed = append(r.Failed, t.ID)
				r.Detail = o.Reason
			case NotInstalled:
				notInstalled++
			default:
				retries = append(retries, o.Reason)
				throttled = throttled && o.After > 0
				r.after = max(r.after, o.After)
				if at := time.Now().Add(o.After); o.After > 0 && at.After(r.at) {
					r.at = at
				}
			}
			sent = sent || o.Kind != Retry || o.After == 0
		})
	}
	wg.Wait()
	for _, ids := range []*[]string{&r.Pushed, &r.Removed, &r.Failed} {
		slices.Sort(*ids)
	}
	if len(r.RemovedReasons) == 0 {
		r.RemovedReasons = nil
	}
	switch {
	case len(retries) > 0:
		slices.Sort(retries)
		r.Detail = strings.Join(slices.Compact(retries), "; ")
		r.throttled = throttled
		if !sent {
			r.Attempts--
		}
		return r
	case len(r.Failed) > 0:
		return r.settle(ChannelFailed, r.Detail)
	case notInstalled > 0 && len(r.Pushed) == 0 && len(r.Removed) == 0:
		return r.settle(ChannelNotInstalled, "")
	default:
		return r.settle(ChannelDelivered, "")
	}
}

// settle ends a channel's part of a delivery.
func (r channelAttempt) settle(outcome, detail string) channelAttempt {
	r.Outcome, r.Detail = outcome, detail
	r.Delivered = outcome != ChannelFailed
	return r
}

func findResult(results []pass.ChannelResult, channel string) (pass.ChannelResult, bool) {
	i := slices.IndexFunc(results, func(r pass.ChannelResult) bool { return r.Channel == channel })
	if i < 0 {
		return pass.ChannelResult{}, false
	}
	return results[i], true
}
