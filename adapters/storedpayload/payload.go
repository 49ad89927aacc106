// Package storedpayload is how passpush stores an event's JSON payload: deflated with a preset dictionary of the
// payloads' usual keys. The event store and the audit log both store payloads so, and read them back through
// Decode, the one place that inflates them.
package storedpayload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Stored as JSON text, payloads were most of the event store's and the audit log's bytes (about 250 bytes,
// against about 200 for the rest of a row and its indexes). PostgreSQL compresses no value of a row under 2 kB,
// whatever the column's compression and the table's toast_tuple_target, so passpush compresses them itself: raw
// deflate with a preset dictionary, which takes a payload of the retention bench to about a third.
//
// github.com/klauspost/compress/flate writes the same raw deflate as the standard library's compress/flate (the
// rows written with that one read the same) at about a third of its CPU: the standard writer's Reset clears
// 640 kB of hash tables before each payload.
//
// A stored payload is either JSON, as rows written before compression and tests' fixtures hold it, or Deflated
// followed by the deflated JSON. No JSON text starts with that byte.
const Deflated byte = 0x01

// dictionaryText primes deflate with what payloads share: their keys and their usual values, the most common last
// (deflate's nearer matches cost fewer bits). Rows are decoded with it for as long as they are kept: never change
// it. A better dictionary takes a new leading byte, and dictionaryText stays to read the old rows.
const dictionaryText = `{"deviceLibraryId":"","passTypeId":"pass.","pushToken":""}` +
	`{"deviceLibraryId":"","reason":"apns_410"}{"reason":"apns_bad_token"}{"actor":{"name":""},"changes":[""]}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","reason":"","channels":["apple","google","webhook"],"progress":[],"superseded":true}` +
	`{"passType":"generic","email":"@example.com","customId":"","data":{},"revision":1}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","reason":"","channels":[{"channel":"apple","delivered":false,"outcome":"failed","attempts":1,"failed":[""],"removed":[""],"removedReasons":{"":"apns_410"},"detail":""}]}` +
	`{"revision":1,"scheduledEventId":"","journeyId":"","channels":[{"channel":"google","delivered":true,"outcome":"not_installed","attempts":1},{"channel":"apple","delivered":true,"outcome":"delivered","attempts":1,"pushed":[""]},{"channel":"webhook","delivered":true,"outcome":"delivered","attempts":1,"pushed":["default"]}]}` +
	`{"journeyId":"","activityId":"","activityInstanceId":"","definitionInstanceId":"","contactKey":"","fields":{},"message":"","revision":1,"passType":"","data":{}}`

// dictionary is dictionaryText as deflate takes it. writers and readers are reused: a deflate writer is hundreds
// of kilobytes of state, too much to make for each of the thousands of events a second passpush stores. Pools are
// safe for concurrent use and hold nothing a caller can observe, so they are package state as
// adapters/apple's deflaters are.
var (
	dictionary = []byte(dictionaryText)
	writers    = sync.Pool{New: func() any {
		w, err := flate.NewWriterDict(io.Discard, flate.DefaultCompression, dictionary)
		if err != nil {
			panic(err) // only for a level out of range
		}
		return w
	}}
	readers = sync.Pool{New: func() any { return flate.NewReaderDict(bytes.NewReader(nil), dictionary) }}
)

// Encode is how payload is stored: Deflated and the deflated JSON.
func Encode(payload []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(payload)/2 + 16)
	b.WriteByte(Deflated)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(&b)
	if _, err := w.Write(payload); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	return b.Bytes(), nil
}

// Decode is the JSON payload that stored holds, deflated or not: the very bytes that were encoded.
func Decode(stored []byte) (json.RawMessage, error) {
	if len(stored) == 0 || stored[0] != Deflated {
		return json.RawMessage(stored), nil
	}
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(stored[1:]), dictionary); err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	var out bytes.Buffer
	out.Grow(len(stored) * 4)
	if _, err := out.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	return out.Bytes(), nil
}
