package apple

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/internal/group"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

// Registrations is the apple_registrations read model: which devices hold a pass, and which passes of a device
// changed since a tag. RegistrationProjection writes it.
type Registrations struct {
	db *sqldb.DB
	// lookups runs the device lookups of concurrent deliveries as one query: the delivery stage pushes hundreds
	// of passes at once, and a query each held the connections that execute calls and projections need.
	lookups *group.Batcher[passKey, []Device]
}

type passKey struct{ tenantID, passID string }

var (
	_ Devices                       = (*Registrations)(nil)
	_ query.AppleRegistrationReader = (*Registrations)(nil)
)

// NewRegistrations returns the registrations read model of db.
func NewRegistrations(db *sqldb.DB) (*Registrations, error) {
	if db == nil {
		return nil, errors.New("new Apple registrations: nil db")
	}
	r := &Registrations{db: db}
	var err error
	r.lookups, err = group.NewBatcher(group.Config{MaxRun: 500, Timeout: 10 * time.Second, MaxInFlight: 2}, r.devicesOf)
	if err != nil {
		return nil, fmt.Errorf("new Apple registrations: %w", err)
	}
	return r, nil
}

// Devices implements Devices: the devices registered for the tenant's pass, by id.
func (r *Registrations) Devices(ctx context.Context, tenantID, passID string) ([]Device, error) {
	devices, err := r.lookups.Do(ctx, passKey{tenantID, passID})
	if err != nil {
		return nil, fmt.Errorf("devices of pass %s: %w", passID, err)
	}
	return devices, nil
}

// devicesOf reads the devices of many passes: one query per tenant among them.
func (r *Registrations) devicesOf(ctx context.Context, keys []passKey) ([][]Device, error) {
	byTenant := map[string][]string{}
	for _, k := range keys {
		byTenant[k.tenantID] = append(byTenant[k.tenantID], k.passID)
	}
	found := map[passKey][]Device{}
	for tenantID, passIDs := range byTenant {
		err := sqldb.QueryIn(ctx, r.db, `SELECT pass_id, device_library_id, pass_type_id, push_token
			FROM apple_registrations WHERE tenant_id = $1 AND active AND `, "pass_id", ` ORDER BY pass_id, device_library_id`,
			[]any{tenantID}, passIDs, func(rows *sql.Rows) error {
				var passID string
				var d Device
				if err := rows.Scan(&passID, &d.ID, &d.PassTypeID, &d.PushToken); err != nil {
					return err
				}
				key := passKey{tenantID, passID}
				found[key] = append(found[key], d)
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("devices of %d passes of tenant %s: %w", len(passIDs), tenantID, err)
		}
	}
	devices := make([][]Device, len(keys))
	for i, k := range keys {
		devices[i] = found[k]
		if devices[i] == nil {
			devices[i] = []Device{}
		}
	}
	return devices, nil
}

// UpdatedSince implements query.AppleRegistrationReader with the passes read model's lastUpdated tags.
func (r *Registrations) UpdatedSince(ctx context.Context, tenantID, deviceID, passTypeID string, since query.UpdateTag, all bool) ([]string, query.UpdateTag, error) {
	// CROSS JOIN makes SQLite start from the device's registrations (its index) instead of every pass of the
	// tenant, which it otherwise picked: a device's call read the whole tenant. PostgreSQL plans it as a join.
	q := `SELECT p.pass_id, p.last_updated_tx, p.last_updated_seq
		FROM apple_registrations r CROSS JOIN passes p
		WHERE p.tenant_id = r.tenant_id AND p.pass_id = r.pass_id
		  AND r.tenant_id = $1 AND r.device_library_id = $2 AND r.pass_type_id = $3 AND r.active`
	args := []any{tenantID, deviceID, passTypeID}
	if !all {
		q += ` AND (p.last_updated_tx > $4 OR (p.last_updated_tx = $4 AND p.last_updated_seq > $5))`
		args = append(args, since.TransactionID, since.Sequence)
	}
	rows, err := sqldb.ReaderFor(ctx, r.db).QueryContext(ctx, q+` ORDER BY p.pass_id`, args...)
	if err != nil {
		return nil, query.UpdateTag{}, fmt.Errorf("passes of device %s: %w", deviceID, err)
	}
	defer rows.Close()
	serials := []string{}
	var last query.UpdateTag
	for rows.Next() {
		var id string
		var tag query.UpdateTag
		if err := rows.Scan(&id, &tag.TransactionID, &tag.Sequence); err != nil {
			return nil, query.UpdateTag{}, fmt.Errorf("passes of device %s: %w", deviceID, err)
		}
		serials = append(serials, id)
		if tag.After(last) {
			last = tag
		}
	}
	if err := rows.Err(); err != nil {
		return nil, query.UpdateTag{}, fmt.Errorf("passes of device %s: %w", deviceID, err)
	}
	return serials, last, nil
}
