package pass

import (
	"encoding/json"
	"fmt"
)

// Event is something that happened to a pass. Name is what the event store records as its type.
type Event interface {
	Name() string
}

// Correlated is an event that names the call it came from, which may differ from the call that stores it.
type Correlated interface {
	Correlation() string
}

// Registered is the first event of a pass's stream.
type Registered struct {
	Details
	Revision int `json:"revision"`
}

// DataChanged replaces the details of a registered pass.
type DataChanged struct {
	Details
	Revision int `json:"revision"`
}

// UpdateScheduled is a journey's change to a pass, to be delivered to its wallets. Data is the pass's whole
// data after the change, so a projection or a delivery needs no other event.
type UpdateScheduled struct {
	UpdateFromJourney
	Revision int               `json:"revision"`
	PassType string            `json:"passType"`
	Data     map[string]string `json:"data"`
}

// Correlation implements Correlated.
func (e UpdateScheduled) Correlation() string { return e.CorrelationID }

// Correlation implements Correlated: an outcome answers the call that scheduled its update, not the delivery
// stage's batch that records it.
func (e PushUpdateEmitted) Correlation() string { return e.CorrelationID }

// Correlation implements Correlated.
func (e PushUpdateFailed) Correlation() string { return e.CorrelationID }

// PushUpdateEmitted records that every channel of the pass took the update of Revision.
type PushUpdateEmitted struct {
	Revision         int             `json:"revision"`
	ScheduledEventID string          `json:"scheduledEventId"`
	JourneyID        string          `json:"journeyId"`
	Channels         []ChannelResult `json:"channels"`
	// CorrelationID is the id of the call that scheduled the update, carried to the event's envelope.
	CorrelationID string `json:"-"`
}

// ChannelResult is one channel's part of a delivery: its outcome once it has settled, and what each of its
// targets (the webhook, a device) did. A retry pushes only the targets in none of the lists.
type ChannelResult struct {
	Channel string `json:"channel"`
	// Delivered is true when the channel settled without a failure.
	Delivered bool `json:"delivered"`
	// Outcome is delivered, failed, not_installed or superseded once the channel has settled; empty before.
	Outcome  string `json:"outcome,omitempty"`
	Attempts int    `json:"attempts"`
	// Pushed, Removed and Failed are the ids of the targets that took the update, that no longer exist, and
	// that refused it for good.
	Pushed  []string `json:"pushed,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	// RemovedReasons says why each removed target is gone, by id, as the channel tells it: for the Apple
	// channel, apns_410 or apns_bad_token, which the pass's DeviceUnregistered records.
	RemovedReasons map[string]string `json:"removedReasons,omitempty"`
	Detail         string            `json:"detail,omitempty"`
}

// PushUpdateFailed records that the update of Revision could not be delivered, and why.
type PushUpdateFailed struct {
	Revision         int             `json:"revision"`
	ScheduledEventID string          `json:"scheduledEventId"`
	JourneyID        string          `json:"journeyId"`
	Reason           string          `json:"reason"`
	Channels         []ChannelResult `json:"channels"`
	// CorrelationID is the id of the call that scheduled the update, carried to the event's envelope.
	CorrelationID string `json:"-"`
}

// DeliveryRedriven records that an operator queued a failed update again, for the channels that failed: the
// redriven delivery starts from Progress, in which every other channel keeps its outcome and so is not pushed
// again, and a redriven channel keeps the targets that took the update. It is a record of the pass's delivery,
// kept in the stream of its push outcomes.
type DeliveryRedriven struct {
	Revision         int    `json:"revision"`
	ScheduledEventID string `json:"scheduledEventId"`
	JourneyID        string `json:"journeyId"`
	// Reason is the operator's, as given to the redrive.
	Reason string `json:"reason"`
	// Channels are the channels pushed again.
	Channels []string        `json:"channels"`
	Progress []ChannelResult `json:"progress"`
	// Superseded is true when a later update of the pass was scheduled before the redrive: a channel that needs
	// only the pass's latest state (a wallet) records the redriven update as superseded instead of pushing an
	// older state over the newer one.
	Superseded bool `json:"superseded,omitempty"`
}

// DeviceRegistered records that a device asked for the pass's updates, or that its push token changed.
type DeviceRegistered struct {
	DeviceLibraryID string `json:"deviceLibraryId"`
	PassTypeID      string `json:"passTypeId"`
	PushToken       string `json:"pushToken"`
}

// DeviceUnregistered records that a device no longer gets the pass's updates, and why: device, apns_410 or
// apns_bad_token.
type DeviceUnregistered struct {
	DeviceLibraryID string `json:"deviceLibraryId"`
	Reason          string `json:"reason"`
}

func (Registered) Name() string         { return "PassRegistered" }
func (DataChanged) Name() string        { return "PassDataChanged" }
func (UpdateScheduled) Name() string    { return "PassUpdateScheduled" }
func (PushUpdateEmitted) Name() string  { return "PushUpdateEmitted" }
func (PushUpdateFailed) Name() string   { return "PushUpdateFailed" }
func (DeliveryRedriven) Name() string   { return "DeliveryRedriven" }
func (DeviceRegistered) Name() string   { return "DeviceRegistered" }
func (DeviceUnregistered) Name() string { return "DeviceUnregistered" }

// DecodeEvent turns a stored event back into its type. ok is false for a name this package does not know,
// which a reader skips: it may be another aggregate's event or one from a newer version.
func DecodeEvent(name string, payload []byte) (e Event, ok bool, err error) {
	switch name {
	case Registered{}.Name():
		e, err = decode[Registered](payload)
	case DataChanged{}.Name():
		e, err = decode[DataChanged](payload)
	case UpdateScheduled{}.Name():
		e, err = decode[UpdateScheduled](payload)
	case PushUpdateEmitted{}.Name():
		e, err = decode[PushUpdateEmitted](payload)
	case PushUpdateFailed{}.Name():
		e, err = decode[PushUpdateFailed](payload)
	case DeliveryRedriven{}.Name():
		e, err = decode[DeliveryRedriven](payload)
	case DeviceRegistered{}.Name():
		e, err = decode[DeviceRegistered](payload)
	case DeviceUnregistered{}.Name():
		e, err = decode[DeviceUnregistered](payload)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("decode %s: %w", name, err)
	}
	return e, true, nil
}

func decode[E Event](payload []byte) (Event, error) {
	var e E
	err := json.Unmarshal(payload, &e)
	return e, err
}
