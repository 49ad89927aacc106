// Package passes stores pass aggregates in the event store and keeps the passes read model.
package passes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/pass"
)

// maxConflictRetries bounds the reload-and-retry loop; only a hot pass written by many writers at once needs more
// than one.
const maxConflictRetries = 20

// StreamPrefix starts the stream id of every pass.
const StreamPrefix = "pass-"

// PushStreamPrefix starts the stream of a pass's push outcomes. They have a stream of their own so that the
// delivery stage, which records them, never writes the stream the journey updates append to: the two would
// conflict, and on PostgreSQL deadlock, on every busy pass.
const PushStreamPrefix = "pushes-"

// StreamID is the event stream of a pass.
func StreamID(passID string) string { return StreamPrefix + passID }

// PushStreamID is the event stream of a pass's push outcomes.
func PushStreamID(passID string) string { return PushStreamPrefix + passID }

// PassIDOf returns the pass a stream belongs to, if it is one of a pass's streams.
func PassIDOf(streamID string) (string, bool) {
	if id, ok := strings.CutPrefix(streamID, PushStreamPrefix); ok {
		return id, true
	}
	return strings.CutPrefix(streamID, StreamPrefix)
}

// Repository implements pass.Repository on the event store.
type Repository struct {
	events *eventstore.Store
}

var _ pass.Repository = (*Repository)(nil)

// NewRepository returns a repository over events.
func NewRepository(events *eventstore.Store) (*Repository, error) {
	if events == nil {
		return nil, errors.New("new pass repository: nil event store")
	}
	return &Repository{events: events}, nil
}

// Update implements pass.Repository.
func (r *Repository) Update(ctx context.Context, tenantID, passID string, update func(p *pass.Pass) error) error {
	return r.UpdateAll(ctx, tenantID, []string{passID}, update)
}

// UpdateAll implements pass.Repository.
func (r *Repository) UpdateAll(ctx context.Context, tenantID string, passIDs []string, update func(p *pass.Pass) error) error {
	for attempt := 0; ; attempt++ {
		err := r.updateOnce(ctx, tenantID, passIDs, update)
		if !errors.Is(err, eventstore.ErrConflict) || attempt == maxConflictRetries {
			return err
		}
	}
}

func (r *Repository) updateOnce(ctx context.Context, tenantID string, passIDs []string, update func(p *pass.Pass) error) error {
	streamIDs := make([]string, 0, 2*len(passIDs))
	for _, id := range passIDs {
		streamIDs = append(streamIDs, StreamID(id), PushStreamID(id))
	}
	streams, err := r.events.Load(ctx, tenantID, streamIDs...)
	if err != nil {
		return err
	}
	var changes []eventstore.Event
	for _, id := range passIDs {
		p, err := pass.New(tenantID, id)
		if err != nil {
			return err
		}
		// The pass's own events first: an outcome refers to a revision they make.
		for _, stream := range []string{StreamID(id), PushStreamID(id)} {
			for _, stored := range streams[stream] {
				e, known, err := pass.DecodeEvent(stored.Type, stored.Payload)
				switch {
				case err != nil:
					return fmt.Errorf("load pass %s: %w", id, err)
				case known:
					p.Apply(e)
				case stream == StreamID(id):
					p.Skip()
				}
			}
		}
		if err := update(p); err != nil {
			return err
		}
		version := map[string]int{StreamID(id): lastVersion(streams[StreamID(id)]), PushStreamID(id): lastVersion(streams[PushStreamID(id)])}
		for _, e := range p.Changes() {
			stream := StreamID(id)
			if pass.IsPushOutcome(e) {
				stream = PushStreamID(id)
			}
			payload, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s of pass %s: %w", e.Name(), id, err)
			}
			version[stream]++
			changes = append(changes, eventstore.Event{
				TenantID:      tenantID,
				StreamID:      stream,
				Version:       version[stream],
				Type:          e.Name(),
				CorrelationID: correlation.ID(ctx),
				Payload:       payload,
			})
		}
	}
	_, err = r.events.Append(ctx, changes)
	return err
}

func lastVersion(stream []eventstore.Event) int {
	if len(stream) == 0 {
		return 0
	}
	return stream[len(stream)-1].Version
}
