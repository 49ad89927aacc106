package eventstore

import (
	"encoding/json"
	"fmt"

	"github.com/passpush/passpush/adapters/storedpayload"
)

// PayloadColumns are the columns of events an event's payload is read from, in the order DecodePayload takes
// them. Appends write packed_payload, deflated (adapters/storedpayload: about a third of the JSON's bytes, which
// were most of the store's), and leave payload empty; rows written before migration 00022 hold their JSON in
// payload and an empty packed_payload.
const PayloadColumns = "payload, packed_payload"

// DecodePayload is an event's JSON payload from its PayloadColumns: the one place that reads them, for the store
// and for the delivery queue's and redrive's own queries.
func DecodePayload(text string, packed []byte) (json.RawMessage, error) {
	if len(packed) == 0 {
		return json.RawMessage(text), nil
	}
	payload, err := storedpayload.Decode(packed)
	if err != nil {
		return nil, fmt.Errorf("stored payload: %w", err)
	}
	return payload, nil
}
