package audit

import (
	"encoding/json"

	"github.com/passpush/passpush/adapters/storedpayload"
)

// encodePayload is how the audit log stores an event's payload (adapters/storedpayload).
func encodePayload(payload []byte) ([]byte, error) { return storedpayload.Encode(payload) }

// DecodePayload is the JSON payload of an event as the audit log stores it: the one place that reads the log's
// data column.
func DecodePayload(stored []byte) (json.RawMessage, error) { return storedpayload.Decode(stored) }
