package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/passpush/passpush/app/command"
)

// PassUpdateSender implements command.PassUpdateSender with group commit. Journey Builder sends thousands of
// execute calls a second, each with an update or two. Stored one message each, every update paid a commit, and
// downstream a subscriber transaction's worth of round trips in the command handler and the projections. Here the
// updates of the calls that arrive while a write is in flight wait for it and are then stored together: one
// ScheduleJourneyPassUpdates message per command partition, all in one transaction.
type PassUpdateSender struct {
	bus *Bus
	// writeTimeout bounds one write, so callers get an error instead of waiting on a database that does not answer.
	writeTimeout time.Duration

	mu      sync.Mutex
	queue   []*sendRequest
	writing bool
}

type sendRequest struct {
	updates []command.ScheduleJourneyPassUpdate
	done    chan error
}

var _ command.PassUpdateSender = (*PassUpdateSender)(nil)

// maxUpdatesPerWrite bounds a write's size; a larger backlog is written in several, in order.
const maxUpdatesPerWrite = 1000

// NewPassUpdateSender returns a sender on bus's command topics.
func NewPassUpdateSender(bus *Bus, writeTimeout time.Duration) (*PassUpdateSender, error) {
	if bus == nil {
		return nil, errors.New("new pass update sender: nil bus")
	}
	if writeTimeout <= 0 {
		return nil, errors.New("new pass update sender: write timeout must be positive")
	}
	return &PassUpdateSender{bus: bus, writeTimeout: writeTimeout}, nil
}

// SendPassUpdates implements command.PassUpdateSender. It returns once the write that holds the updates has
// committed, or with that write's error; the updates of one call are always in the same write.
func (s *PassUpdateSender) SendPassUpdates(ctx context.Context, updates ...command.ScheduleJourneyPassUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	req := &sendRequest{updates: updates, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, req)
	start := !s.writing
	s.writing = true
	s.mu.Unlock()
	if start {
		// The writer gets a goroutine of its own, so under steady load no caller keeps writing for others.
		go s.write()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The write may still commit; a resent call is then a duplicate, which the passes ignore.
		return fmt.Errorf("wait for %d pass updates to be stored: %w", len(updates), ctx.Err())
	}
}

// write stores what is queued until the queue is empty, one write at a time, which keeps the updates of a pass
// in the order they were sent.
func (s *PassUpdateSender) write() {
	for {
		group := s.take()
		if len(group) == 0 {
			return
		}
		err := s.store(group)
		for _, req := range group {
			req.done <- err
		}
	}
}

// take removes the next write's requests from the queue: at least one, and no more than maxUpdatesPerWrite
// updates unless a single request holds more. With nothing queued it ends the writer.
func (s *PassUpdateSender) take() []*sendRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, updates := 0, 0
	for n < len(s.queue) && (n == 0 || updates+len(s.queue[n].updates) <= maxUpdatesPerWrite) {
		updates += len(s.queue[n].updates)
		n++
	}
	if n == 0 {
		s.writing = false
		return nil
	}
	group := s.queue[:n:n]
	s.queue = s.queue[n:]
	return group
}

// store writes the group's updates as one message per partition, in one transaction.
func (s *PassUpdateSender) store(group []*sendRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
	defer cancel()
	byTopic := make(map[string]*command.ScheduleJourneyPassUpdates)
	var messages []any
	for _, req := range group {
		for _, u := range req.updates {
			topic := commandTopicOf(u, s.bus.partitions)
			batch, ok := byTopic[topic]
			if !ok {
				batch = &command.ScheduleJourneyPassUpdates{}
				byTopic[topic] = batch
				messages = append(messages, batch)
			}
			batch.Updates = append(batch.Updates, u)
		}
	}
	return s.bus.SendAll(ctx, messages...)
}
