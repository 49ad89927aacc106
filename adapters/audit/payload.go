package audit

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// The audit log keeps a copy of every event's payload, for as long as the log lives: archived events' included.
// Stored as JSON text it was most of the log's bytes (a payload of about 250 bytes, against about 200 for the
// rest of the row and its indexes). PostgreSQL compresses no value of a row under 2 kB, whatever the column's
// compression and the table's toast_tuple_target, so the log compresses its payloads itself: raw deflate with a
// preset dictionary of the payloads' usual keys, which takes a payload of the retention bench to about a third.
//
// A stored payload is either JSON, as rows written before migration 00021 and tests' fixtures hold it, or
// payloadDeflated followed by the deflated JSON. No JSON text starts with that byte.
const payloadDeflated byte = 0x01

// payloadDictionary primes deflate with what payloads share: their keys and their usual values, the most common
// last (deflate's nearer matches cost fewer bits). Rows are decoded with it for as long as they are kept: never
// change it. A better dictionary takes a new leading byte, and payloadDictionary stays to read the old rows.
const payloadDictionary = `{"deviceLibraryId":"","passTypeId":"pass.","pushToken":""}` +
	`{"deviceLibraryId":"","reason":"apns_410"}{"reason":"apns_bad_token"}{"actor":{"name":""},"changes":[""]}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","reason":"","channels":["apple","google","webhook"],"progress":[],"superseded":true}` +
	`{"passType":"generic","email":"@example.com","customId":"","data":{},"revision":1}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","reason":"","channels":[{"channel":"apple","delivered":false,"outcome":"failed","attempts":1,"failed":[""],"removed":[""],"removedReasons":{"":"apns_410"},"detail":""}]}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","channels":[{"channel":"google","delivered":true,"outcome":"not_installed","attempts":1},{"channel":"apple","delivered":true,"outcome":"delivered","attempts":1,"pushed":[""]},{"channel":"webhook","delivered":true,"outcome":"delivered","attempts":1,"pushed":["default"]}]}` +
	`{"journeyId":"","activityId":"","activityInstanceId":"","definitionInstanceId":"","contactKey":"","fields":{},"message":"","revision":1,"passType":"","data":{}}`

// dictionary is payloadDictionary as deflate takes it.
// payloadWriters and payloadReaders are reused: a deflate writer is several hundred kilobytes of state, too much
// to make for each of the thousands of events a second the projection records.
var (
	dictionary     = []byte(payloadDictionary)
	payloadWriters = sync.Pool{New: func() any {
		w, err := flate.NewWriterDict(io.Discard, flate.DefaultCompression, dictionary)
		if err != nil {
			panic(err) // only for a level out of range
		}
		return w
	}}
	payloadReaders = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), dictionary) }}
)

// encodePayload is how the audit log stores an event's payload.
func encodePayload(payload []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(payload)/2 + 8)
	b.WriteByte(payloadDeflated)
	w := payloadWriters.Get().(*flate.Writer)
	defer payloadWriters.Put(w)
	w.Reset(&b)
	if _, err := w.Write(payload); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	return b.Bytes(), nil
}

// DecodePayload is the JSON payload of an event as the audit log stores it: the one place that reads the log's
// data column.
func DecodePayload(stored []byte) (json.RawMessage, error) {
	if len(stored) == 0 || stored[0] != payloadDeflated {
		return json.RawMessage(stored), nil
	}
	r := payloadReaders.Get().(io.ReadCloser)
	defer payloadReaders.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(stored[1:]), dictionary); err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	payload, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	return payload, nil
}
