package messaging

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/sirupsen/logrus"
)

// Stopped is a consumer held up by a message it fails on every try: it tries again with backoff and takes no
// later message until that one succeeds, a release fixes the handler or an operator skips the message.
type Stopped struct {
	// Consumer is the router handler: a projections group or a command handler.
	Consumer string
	// MessageUUID is the Watermill message it fails on.
	MessageUUID string
	// EventID and Position name the event that failed, when the handler said which (eventstore.EventError).
	EventID  string
	Position int64
	Err      string
	Since    time.Time
}

// failures is what happens when a handler fails. No message is ever parked on a poison topic: an acknowledged
// execute call's command, or an event, that went there would be lost to its consumer for good.
//
// A failed try aborts the subscriber's whole transaction instead of being retried inside it: if the connection
// died, nothing more can be done in it (retrying there spun for 30 s, Watermill's ack deadline), and if a lock
// timed out, an open transaction would hold back every subscriber of the database (the transaction-id cut-off
// is database-wide). The aborted transaction also drops the message's ack, so the subscriber fails to store its
// offset, backs off (subscriberBackoff) and reads the same messages again on a fresh connection. The effects
// and the offset commit together or not at all, so a message still takes effect exactly once.
//
// A transient failure (sqldb.Transient) is logged as a warning and retried until it passes. Any other failure
// stops the consumer: it is logged as an error, with the event's id and position where the handler named them,
// and listed by Stopped, until a try succeeds.
type failures struct {
	log *logrus.Entry

	mu      sync.Mutex
	stopped map[string]Stopped
}

func newFailures(log *logrus.Entry) *failures {
	return &failures{log: log, stopped: map[string]Stopped{}}
}

func (f *failures) middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		consumer := message.HandlerNameFromCtx(msg.Context())
		produced, err := h(msg)
		if err == nil {
			f.handled(consumer, msg.UUID)
			return produced, nil
		}
		tx, inTx := wsql.TxFromContext(msg.Context())
		if !inTx {
			// Not a SQL subscriber's message: nacking makes its subscriber send it again.
			return nil, err
		}
		if errors.Is(err, sql.ErrTxDone) {
			// An earlier message of the same read aborted the transaction; this one is read again with it.
			return nil, nil
		}
		f.failed(consumer, msg.UUID, err)
		// Rollback marks the transaction done even when the connection is gone, so the subscriber's ack in it
		// fails and nothing of this read is stored: the ack below only tells the subscriber to move on to that.
		_ = tx.Rollback()
		return nil, nil
	}
}

func (f *failures) failed(consumer, messageUUID string, err error) {
	log := f.log.WithError(err).WithFields(logrus.Fields{"consumer": consumer, "message_uuid": messageUUID})
	if sqldb.Transient(err) {
		log.Warn("handler hit a transient database error; reading the message again on a fresh transaction")
		return
	}
	s := Stopped{Consumer: consumer, MessageUUID: messageUUID, Err: err.Error(), Since: time.Now()}
	var eventErr *eventstore.EventError
	if errors.As(err, &eventErr) {
		s.EventID, s.Position = eventErr.EventID, eventErr.Position.Sequence
		log = log.WithFields(logrus.Fields{"event_id": s.EventID, "position": s.Position})
	}
	f.mu.Lock()
	if previous, ok := f.stopped[consumer]; ok && previous.MessageUUID == messageUUID {
		s.Since = previous.Since
	}
	f.stopped[consumer] = s
	f.mu.Unlock()
	log.WithField("stopped_since", s.Since.UTC().Format(time.RFC3339)).
		Error("consumer stopped: the message fails on every try and nothing after it is handled until it succeeds; " +
			"fix it with a release, or skip the event with `passpush projections skip`")
}

// handled clears a consumer's stop once the message it stopped on succeeds. The messages read before it in the
// same transaction succeed on every try and say nothing.
func (f *failures) handled(consumer, messageUUID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.stopped[consumer]; ok && s.MessageUUID == messageUUID {
		delete(f.stopped, consumer)
		f.log.WithFields(logrus.Fields{"consumer": consumer, "message_uuid": s.MessageUUID}).Warn("consumer resumed")
	}
}

func (f *failures) isStopped(consumer string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.stopped[consumer]
	return ok
}

func (f *failures) list() []Stopped {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Stopped, 0, len(f.stopped))
	for _, s := range f.stopped {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Consumer < out[j].Consumer })
	return out
}

// subscriberBackoff is a subscriber's wait after an error: it doubles from first to max over consecutive errors
// and starts again after a read that succeeds. After a dropped connection the first read again comes quickly;
// through a database restart the reads back off instead of flooding the log.
type subscriberBackoff struct {
	poll, first, max time.Duration
	log              *logrus.Entry
	errors           int
}

func (b *subscriberBackoff) HandleError(_ watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err == nil {
		b.errors = 0
		if noMsg {
			return b.poll
		}
		return 0
	}
	wait := min(b.first<<min(b.errors, 20), b.max)
	b.errors++
	// A handler's failure was logged by failures, and a stopping subscriber's query ends with its context: only
	// the subscriber's own query failing is news.
	if !errors.Is(err, sql.ErrTxDone) && !errors.Is(err, context.Canceled) {
		b.log.WithError(err).WithField("retry_in", wait.String()).Warn("reading messages failed; retrying")
	}
	return wait
}
