package audit

import (
	"encoding/json"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/storedpayload"
)

// storedPayloadOf is how the audit log stores an event's payload (adapters/storedpayload): the bytes the event
// store wrote, when the event carries them, or the payload encoded the same way.
func storedPayloadOf(e eventstore.Event) ([]byte, error) {
	if len(e.StoredPayload) > 0 {
		return e.StoredPayload, nil
	}
	return storedpayload.Encode(e.Payload)
}

// DecodePayload is the JSON payload of an event as the audit log stores it: the one place that reads the log's
// data column.
func DecodePayload(stored []byte) (json.RawMessage, error) { return storedpayload.Decode(stored) }
