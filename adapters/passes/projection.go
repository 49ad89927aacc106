package passes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// ProjectionName is the passes projection's consumer group. Renaming it replays every event into the read model.
const ProjectionName = "passes-projection"

// Projection applies pass events to the passes read model.
type Projection struct {
	db *sqldb.DB
}

// NewProjection returns the passes projection of db.
func NewProjection(db *sqldb.DB) (*Projection, error) {
	if db == nil {
		return nil, errors.New("new passes projection: nil db")
	}
	return &Projection{db: db}, nil
}

// Handle applies one event. It runs in the subscriber's transaction, so the row and the consumer's offset commit
// together. It skips an event the row already has (stream_version), so a rebuild running beside the live
// projection, or a redelivery, changes nothing twice.
func (p *Projection) Handle(ctx context.Context, e *eventstore.Event) error {
	if !strings.HasPrefix(e.StreamID, StreamPrefix) || !pass.ChangesReadModel(e.Type) {
		return nil
	}
	decoded, _, err := pass.DecodeEvent(e.Type, e.Payload)
	if err != nil {
		return fmt.Errorf("project event %s: %w", e.ID, err)
	}
	var d pass.Details
	switch ev := decoded.(type) {
	case pass.Registered:
		d = ev.Details
	case pass.DataChanged:
		d = ev.Details
	}
	data, err := json.Marshal(d.Data)
	if err != nil {
		return fmt.Errorf("encode data of pass %s: %w", e.StreamID, err)
	}
	passID := strings.TrimPrefix(e.StreamID, StreamPrefix)
	return sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO passes (tenant_id, pass_id, pass_type, email, email_lower, custom_id, data, version, stream_version, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)
			ON CONFLICT (tenant_id, pass_id) DO UPDATE SET
				pass_type = excluded.pass_type,
				email = excluded.email,
				email_lower = excluded.email_lower,
				custom_id = excluded.custom_id,
				data = excluded.data,
				version = passes.version + 1,
				stream_version = excluded.stream_version,
				updated_at = excluded.updated_at
			WHERE passes.stream_version < excluded.stream_version`,
			e.TenantID, passID, d.PassType, d.Email, strings.ToLower(d.Email), d.CustomID, string(data), e.Version, e.OccurredAt.UTC())
		if err != nil {
			return fmt.Errorf("project %s of pass %s: %w", e.Type, passID, err)
		}
		return nil
	})
}

// Rebuild empties the read model and replays every event of the store into it, in one transaction.
func (p *Projection) Rebuild(ctx context.Context, events *eventstore.Store) (int, error) {
	applied := 0
	err := sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM passes`); err != nil {
			return fmt.Errorf("empty passes: %w", err)
		}
		var after eventstore.Position
		for {
			batch, err := events.ReadAll(ctx, after, 1000)
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return nil
			}
			for i := range batch {
				if err := p.Handle(ctx, &batch[i]); err != nil {
					return err
				}
				applied++
			}
			after = batch[len(batch)-1].Position
		}
	})
	if err != nil {
		return 0, fmt.Errorf("rebuild passes: %w", err)
	}
	return applied, nil
}
