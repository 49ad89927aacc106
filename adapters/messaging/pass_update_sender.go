package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/passpush/passpush/adapters/internal/group"
	"github.com/passpush/passpush/app/command"
)

// PassUpdateSender implements command.PassUpdateSender with group commit. Journey Builder sends thousands of
// execute calls a second, each with an update or two. Stored one message each, every update paid a commit, and
// downstream a subscriber transaction's worth of round trips in the command handler and the projections. Here the
// updates of the calls that arrive while a partition's write is in flight wait for it and are then stored
// together, as one ScheduleJourneyPassUpdates message with one INSERT.
//
// Each command partition has a writer of its own. A call returns only once its write has committed, so an update
// sent after another call returned is stored after that call's updates: the order Journey Builder can see is
// kept. Calls in flight together have no order between them, so their writes may overlap. A call whose passes
// fall in several partitions waits for each of their writes; if one fails the call fails, and Journey Builder's
// resend stores the rest, the passes ignoring what they already have.
type PassUpdateSender struct {
	partitions []*group.Batcher[[]command.ScheduleJourneyPassUpdate, struct{}]
	accepted   atomic.Int64
}

var _ command.PassUpdateSender = (*PassUpdateSender)(nil)

const (
	// maxCallsPerWrite bounds a message's size; a larger backlog is written in several, in order.
	maxCallsPerWrite = 500
	// A write waits up to writeLinger for writeMinCalls calls. The command handler's cost is mostly round trips
	// per message, so writing only the few calls that arrived during the previous write would leave it further
	// behind every second; waiting a few milliseconds makes messages large enough for it to keep up. Under heavier
	// load the calls are there at once and nobody waits. Two writes may be in flight, so calls that arrive while
	// one commits need not wait for it. The README's Performance section has the measurements behind the values.
	writeLinger    = 5 * time.Millisecond
	writeMinCalls  = 16
	writesInFlight = 2
)

// NewPassUpdateSender returns a sender on bus's command topics. writeTimeout bounds one write.
func NewPassUpdateSender(bus *Bus, writeTimeout time.Duration) (*PassUpdateSender, error) {
	if bus == nil {
		return nil, errors.New("new pass update sender: nil bus")
	}
	s := &PassUpdateSender{}
	for i := range bus.partitions {
		topic := CommandTopic(i)
		write := func(ctx context.Context, calls [][]command.ScheduleJourneyPassUpdate) ([]struct{}, error) {
			batch := &command.ScheduleJourneyPassUpdates{}
			for _, updates := range calls {
				batch.Updates = append(batch.Updates, updates...)
			}
			if err := bus.CommandBus.Send(ctx, batch); err != nil {
				return nil, fmt.Errorf("store %d pass updates on %s: %w", len(batch.Updates), topic, err)
			}
			s.accepted.Add(int64(len(batch.Updates)))
			return make([]struct{}, len(calls)), nil
		}
		writer, err := group.NewBatcher(group.Config{MaxRun: maxCallsPerWrite, Timeout: writeTimeout, Linger: writeLinger, MinRun: writeMinCalls,
			MaxInFlight: writesInFlight}, write)
		if err != nil {
			return nil, fmt.Errorf("new pass update sender: %w", err)
		}
		s.partitions = append(s.partitions, writer)
	}
	return s, nil
}

// Accepted counts the updates stored since the sender was made. It implements delivery.AcceptedCounter: the
// delivery stage holds back while Journey Builder brings updates faster than they could be delivered.
func (s *PassUpdateSender) Accepted() int64 { return s.accepted.Load() }

// SendPassUpdates implements command.PassUpdateSender. It returns once the writes that hold the updates have
// committed, or with their error. A caller whose ctx ends gets its error, though the write may still commit: a
// resent call is then a duplicate, which the passes ignore.
func (s *PassUpdateSender) SendPassUpdates(ctx context.Context, updates ...command.ScheduleJourneyPassUpdate) error {
	byPartition := make(map[int][]command.ScheduleJourneyPassUpdate)
	for _, u := range updates {
		p := partitionOf(u, len(s.partitions))
		byPartition[p] = append(byPartition[p], u)
	}
	if len(byPartition) == 1 {
		for p, part := range byPartition {
			_, err := s.partitions[p].Do(ctx, part)
			return err
		}
	}
	errs := make(chan error, len(byPartition))
	for p, part := range byPartition {
		go func() {
			_, err := s.partitions[p].Do(ctx, part)
			errs <- err
		}()
	}
	var err error
	for range byPartition {
		err = errors.Join(err, <-errs)
	}
	return err
}
