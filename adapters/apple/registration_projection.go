package apple

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// RegistrationProjection applies DeviceRegistered and DeviceUnregistered to the apple_registrations read model.
type RegistrationProjection struct {
	db *sqldb.DB
	// table is the table written: apple_registrations, or a rebuild's new table (Into).
	table string
}

// NewRegistrationProjection returns the registrations projection of db.
func NewRegistrationProjection(db *sqldb.DB) (*RegistrationProjection, error) {
	if db == nil {
		return nil, errors.New("new Apple registration projection: nil db")
	}
	return &RegistrationProjection{db: db, table: "apple_registrations"}, nil
}

// Into returns the projection writing to table, a table shaped like apple_registrations, for an online rebuild.
func (p *RegistrationProjection) Into(table string) *RegistrationProjection {
	return &RegistrationProjection{db: p.db, table: table}
}

// Handle applies the registrations among events, in order, in the subscriber's transaction. An unregistered
// device keeps its row, inactive, and a row takes only a later event of its pass's stream (stream_version), so
// an event handled again (a rebuild beside the live projection) changes nothing. Registrations are rare: one
// statement each.
func (p *RegistrationProjection) Handle(ctx context.Context, events []eventstore.Event) error {
	var mine []*eventstore.Event
	for i := range events {
		if (events[i].Type == pass.DeviceRegistered{}.Name() || events[i].Type == pass.DeviceUnregistered{}.Name()) &&
			strings.HasPrefix(events[i].StreamID, passes.StreamPrefix) {
			mine = append(mine, &events[i])
		}
	}
	if len(mine) == 0 {
		return nil
	}
	return sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		for _, e := range mine {
			decoded, _, err := e.Decode()
			if err != nil {
				return fmt.Errorf("project registration: %w", err)
			}
			passID := strings.TrimPrefix(e.StreamID, passes.StreamPrefix)
			switch ev := decoded.(type) {
			case pass.DeviceRegistered:
				_, err = tx.ExecContext(ctx, `INSERT INTO `+p.table+`
					(tenant_id, pass_id, device_library_id, pass_type_id, push_token, active, stream_version, updated_at)
					VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7)
					ON CONFLICT (tenant_id, pass_id, device_library_id) DO UPDATE SET
						pass_type_id = excluded.pass_type_id, push_token = excluded.push_token, active = TRUE,
						stream_version = excluded.stream_version, updated_at = excluded.updated_at
					WHERE `+p.table+`.stream_version < excluded.stream_version`,
					e.TenantID, passID, ev.DeviceLibraryID, ev.PassTypeID, ev.PushToken, e.Version, e.OccurredAt.UTC())
			case pass.DeviceUnregistered:
				_, err = tx.ExecContext(ctx, `INSERT INTO `+p.table+`
					(tenant_id, pass_id, device_library_id, pass_type_id, push_token, active, stream_version, updated_at)
					VALUES ($1, $2, $3, '', '', FALSE, $4, $5)
					ON CONFLICT (tenant_id, pass_id, device_library_id) DO UPDATE SET
						active = FALSE, stream_version = excluded.stream_version, updated_at = excluded.updated_at
					WHERE `+p.table+`.stream_version < excluded.stream_version`,
					e.TenantID, passID, ev.DeviceLibraryID, e.Version, e.OccurredAt.UTC())
			}
			if err != nil {
				return e.Fail(fmt.Errorf("project %s of pass %s: %w", e.Type, passID, err))
			}
		}
		return nil
	})
}
