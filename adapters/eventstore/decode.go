package eventstore

import (
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

// DomainEvent is an event as the domain declares it: a pass.Event, or an activity.Lifecycle.
type DomainEvent interface {
	Name() string
}

// Decode returns the domain event e records. It is the one place a stored payload is decoded, for every reader
// of the store: the pass repository, the projections and the delivery queue. known is false for a type no
// domain package declares (ProjectionSkipped, or an event written by a newer version), which a reader passes
// over. An error is an EventError, so a projection the event stops can name it.
func (e Event) Decode() (decoded DomainEvent, known bool, err error) {
	decoded, known, err = pass.DecodeEvent(e.Type, e.Payload)
	if !known {
		decoded, known, err = activity.DecodeEvent(e.Type, e.Payload)
	}
	if err != nil {
		return nil, true, e.Fail(err)
	}
	if !known {
		return nil, false, nil
	}
	return decoded, true, nil
}
