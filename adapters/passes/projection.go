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
	if !strings.HasPrefix(e.StreamID, StreamPrefix) {
		return nil
	}
	decoded, _, err := pass.DecodeEvent(e.Type, e.Payload)
	if err != nil {
		return fmt.Errorf("project event %s: %w", e.ID, err)
	}
	passID := strings.TrimPrefix(e.StreamID, StreamPrefix)
	switch ev := decoded.(type) {
	case pass.Registered:
		return p.upsert(ctx, e, passID, ev.Details, ev.Revision)
	case pass.DataChanged:
		return p.upsert(ctx, e, passID, ev.Details, ev.Revision)
	case pass.UpdateScheduled:
		return p.exec(ctx, e, `
			UPDATE passes SET data = $3, version = $4, stream_version = $5, updated_at = $6
			WHERE tenant_id = $1 AND pass_id = $2 AND stream_version < $5`,
			e.TenantID, passID, encodeData(ev.Data), ev.Revision, e.Version, e.OccurredAt.UTC())
	}
	return nil
}

func (p *Projection) upsert(ctx context.Context, e *eventstore.Event, passID string, d pass.Details, revision int) error {
	return p.exec(ctx, e, `
		INSERT INTO passes (tenant_id, pass_id, pass_type, email, email_lower, custom_id, data, version, stream_version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (tenant_id, pass_id) DO UPDATE SET
			pass_type = excluded.pass_type,
			email = excluded.email,
			email_lower = excluded.email_lower,
			custom_id = excluded.custom_id,
			data = excluded.data,
			version = excluded.version,
			stream_version = excluded.stream_version,
			updated_at = excluded.updated_at
		WHERE passes.stream_version < excluded.stream_version`,
		e.TenantID, passID, d.PassType, d.Email, strings.ToLower(d.Email), d.CustomID, encodeData(d.Data), revision, e.Version, e.OccurredAt.UTC())
}

func (p *Projection) exec(ctx context.Context, e *eventstore.Event, stmt string, args ...any) error {
	return sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("project %s %s of %s: %w", e.Type, e.ID, e.StreamID, err)
		}
		return nil
	})
}

func encodeData(data map[string]string) string {
	if data == nil {
		return "{}"
	}
	// A map of strings always encodes.
	b, _ := json.Marshal(data)
	return string(b)
}

// Reset empties the read model, for a rebuild that replays every event into Handle.
func (p *Projection) Reset(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM passes`); err != nil {
		return fmt.Errorf("empty passes: %w", err)
	}
	return nil
}

// Rebuild empties the read model and replays every event of the store into it, in one transaction.
func (p *Projection) Rebuild(ctx context.Context, events *eventstore.Store) (int, error) {
	n, err := events.Rebuild(ctx, p.Reset, p.Handle)
	if err != nil {
		return 0, fmt.Errorf("rebuild passes: %w", err)
	}
	return n, nil
}
