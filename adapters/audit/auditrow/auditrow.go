// Package auditrow is how an audit log row stores an event's id and stream in fewer bytes than their text. It
// imports nothing of passpush's, so that migration 00022, which rewrites the rows written before it, uses the
// very same rules as the projection.
package auditrow

import (
	"crypto/md5"

	"github.com/google/uuid"
)

// EventKey is the row's key for an event id, stored as a uuid (16 bytes instead of 36 as text, in the row and
// in the primary key), and the id's text when the key cannot give it back. An id that is a UUID in its canonical
// form (lower case, hyphens: what the event store gives every event) is its own key, with no text. Any other id
// (a caller may give any text, and tests do) is keyed by its MD5 as a uuid, as PostgreSQL's md5(id)::uuid gives
// it, and keeps its text. The projection dedupes on the key: the same id gives the same key, and two ids the same
// key only if a canonical UUID equals another id's MD5, or two ids share an MD5, which no id passpush makes can.
func EventKey(id string) (key, text string) {
	if u, err := uuid.Parse(id); err == nil && u.String() == id {
		return id, ""
	}
	return uuid.UUID(md5.Sum([]byte(id))).String(), id
}

// EventID is the event id a row's key and text stand for.
func EventID(key, text string) string {
	if text != "" {
		return text
	}
	return key
}

// The streams of a pass (adapters/passes.StreamID and PushStreamID): a row names them without the pass id, which
// the row holds already.
const (
	passStream = "pass-"
	pushStream = "pushes-"
	// pushMark is how a row names its pass's deliveries' stream since migration 00025: one byte, a control
	// character that no stream id is. Rows written between 00022 and 00025 held the bare prefix, which still reads.
	pushMark = "\x01"
)

// StoredStream is how a row stores an event's stream: empty for the pass's own stream (pass-ID), pushMark for its
// deliveries' stream (pushes-ID), else the stream id as it is. (A stream that is the bare prefix "pushes-" has no
// pass id, so its row has none, and stores it as it is.)
func StoredStream(streamID, passID string) string {
	if passID == "" {
		return streamID
	}
	if streamID == passStream+passID {
		return ""
	}
	if streamID == pushStream+passID {
		return pushMark
	}
	return streamID
}

// StreamOf is the stream id a row's stored stream stands for.
func StreamOf(stored, passID string) string {
	if passID == "" {
		return stored
	}
	switch stored {
	case "":
		return passStream + passID
	case pushMark, pushStream:
		return pushStream + passID
	}
	return stored
}

// PushMark is what StoredStream stores for a pass's deliveries' stream, and PushPrefix what rows written before
// migration 00025 stored, for the migration to rewrite them.
const (
	PushMark   = pushMark
	PushPrefix = pushStream
)
