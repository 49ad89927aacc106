// Package passes stores pass aggregates in the event store and keeps the passes read model.
package passes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/pass"
)

// maxConflictRetries bounds the reload-and-retry loop; only a hot pass written by many writers at once needs more
// than one.
const maxConflictRetries = 20

// StreamPrefix starts the stream id of every pass.
const StreamPrefix = "pass-"

// StreamID is the event stream of a pass.
func StreamID(passID string) string { return StreamPrefix + passID }

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
	streamIDs := make([]string, len(passIDs))
	for i, id := range passIDs {
		streamIDs[i] = StreamID(id)
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
		for _, stored := range streams[StreamID(id)] {
			e, known, err := pass.DecodeEvent(stored.Type, stored.Payload)
			if err != nil {
				return fmt.Errorf("load pass %s: %w", id, err)
			}
			if known {
				p.Apply(e)
			} else {
				p.Skip()
			}
		}
		if err := update(p); err != nil {
			return err
		}
		for i, e := range p.Changes() {
			payload, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s of pass %s: %w", e.Name(), id, err)
			}
			changes = append(changes, eventstore.Event{
				TenantID:      tenantID,
				StreamID:      StreamID(id),
				Version:       p.StoredVersion() + i + 1,
				Type:          e.Name(),
				CorrelationID: correlation.ID(ctx),
				Payload:       payload,
			})
		}
	}
	_, err = r.events.Append(ctx, changes)
	return err
}
