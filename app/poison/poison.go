// Package poison is the poison topic as an operator repairs it: the messages a handler gave up on, and replaying
// them onto the topic they came from. Databases written by builds that parked failing messages there hold
// acknowledged commands and event batches that were never applied; this is how they get applied.
package poison

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Message is one message on the poison topic.
type Message struct {
	// ID is the message's UUID, which replay selects by. It is the same as on the original topic.
	ID string `json:"id"`
	// Offset is the message's position on the poison topic.
	Offset int64 `json:"offset"`
	// Topic, Handler and Subscriber say where it failed; Topic is where a replay sends it.
	Topic      string `json:"topic"`
	Handler    string `json:"handler"`
	Subscriber string `json:"subscriber"`
	// Reason is the error the handler last returned.
	Reason string `json:"reason"`
	// PoisonedAt is when it was put on the poison topic.
	PoisonedAt time.Time `json:"poisonedAt"`
	// Kind is the message's type, e.g. ScheduleJourneyPassUpdates or Batch.
	Kind string `json:"kind"`
}

// Queue is the poison topic.
type Queue interface {
	// List returns every message on the poison topic, oldest first.
	List(ctx context.Context) ([]Message, error)
	// Replay sends the messages with these ids back to their original topics and takes them off the poison topic,
	// each in one transaction. It returns what it replayed. It replays nothing and returns an *UnknownIDsError if
	// an id is not on the poison topic.
	Replay(ctx context.Context, ids []string) ([]Message, error)
	// ReplayAll replays every message on the poison topic.
	ReplayAll(ctx context.Context) ([]Message, error)
}

// UnknownIDsError names the ids a replay asked for that are not on the poison topic.
type UnknownIDsError struct {
	IDs []string
}

func (e *UnknownIDsError) Error() string {
	return "not on the poison topic: " + strings.Join(e.IDs, ", ")
}

// ErrNotReplayable is a message that has no topic to go back to, or one that nothing reads.
var ErrNotReplayable = errors.New("not replayable")
