package pass

import (
	"encoding/json"
	"fmt"
)

// Event is something that happened to a pass. Name is what the event store records as its type.
type Event interface {
	Name() string
}

// Registered is the first event of a pass's stream.
type Registered struct {
	Details
}

// DataChanged replaces the details of a registered pass.
type DataChanged struct {
	Details
}

func (Registered) Name() string  { return "PassRegistered" }
func (DataChanged) Name() string { return "PassDataChanged" }

// ChangesReadModel reports whether an event of this name changes what the passes read model shows, and so
// bumps the version clients see.
func ChangesReadModel(name string) bool {
	switch name {
	case Registered{}.Name(), DataChanged{}.Name():
		return true
	}
	return false
}

// DecodeEvent turns a stored event back into its type. ok is false for a name this package does not know,
// which a reader skips: it may be another aggregate's event or one from a newer version.
func DecodeEvent(name string, payload []byte) (e Event, ok bool, err error) {
	switch name {
	case Registered{}.Name():
		var r Registered
		err = json.Unmarshal(payload, &r)
		e = r
	case DataChanged{}.Name():
		var c DataChanged
		err = json.Unmarshal(payload, &c)
		e = c
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("decode %s: %w", name, err)
	}
	return e, true, nil
}
