package tenants

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/sirupsen/logrus"
)

// StreamPrefix starts the stream of a tenant's own events: its settings' and its API keys' changes.
const StreamPrefix = "tenant-"

// StreamID is the event stream of a tenant's changes.
func StreamID(tenantID string) string { return StreamPrefix + tenantID }

// ChangeLog implements command.TenantChangeLog on the event store: a change and its events commit in one
// transaction, and the events reach the audit log through the event bus like every other event. It also writes
// the security log's line for each change, once it is committed.
type ChangeLog struct {
	db     *sqldb.DB
	events *eventstore.Store
	log    *logrus.Entry
	// committed is told of each tenant a change was tried on, after its transaction ended, so a cache drops
	// what it read before the commit.
	committed func(tenantID string)
}

var _ command.TenantChangeLog = (*ChangeLog)(nil)

// NewChangeLog returns a change log on db's event store. committed may be nil.
func NewChangeLog(db *sqldb.DB, events *eventstore.Store, log *logrus.Entry, committed func(tenantID string)) (*ChangeLog, error) {
	if db == nil || events == nil || log == nil {
		return nil, errors.New("new tenant change log: nil db, event store or logger")
	}
	if committed == nil {
		committed = func(string) {}
	}
	return &ChangeLog{db: db, events: events, log: log, committed: committed}, nil
}

// Record implements command.TenantChangeLog. Two changes of one tenant at once take the same stream version; the
// later one's append conflicts and it runs again from the start, in a new transaction, unless the caller's
// context carries a transaction of its own, which then fails with the conflict.
func (c *ChangeLog) Record(ctx context.Context, tenantID string, change func(ctx context.Context) ([]tenant.Event, error)) error {
	var recorded []tenant.Event
	try := func(bool) error {
		recorded = nil
		return sqldb.InTx(ctx, c.db, func(ctx context.Context, tx *sql.Tx) error {
			events, err := change(ctx)
			if err != nil || len(events) == 0 {
				return err
			}
			if err := c.append(ctx, tx, tenantID, events); err != nil {
				return err
			}
			recorded = events
			return nil
		})
	}
	var err error
	if _, joined := sqldb.TxFromContext(ctx); joined {
		err = try(false)
	} else {
		err = eventstore.RetryConflicts(try)
	}
	c.committed(tenantID)
	if err != nil {
		return err
	}
	for _, e := range recorded {
		c.logChange(ctx, tenantID, e)
	}
	return nil
}

func (c *ChangeLog) append(ctx context.Context, tx *sql.Tx, tenantID string, events []tenant.Event) error {
	stream := StreamID(tenantID)
	version, err := c.events.StreamVersion(ctx, tenantID, stream)
	if err != nil {
		return err
	}
	stored := make([]eventstore.Event, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s of tenant %s: %w", e.Name(), tenantID, err)
		}
		stored[i] = eventstore.Event{
			TenantID: tenantID, StreamID: stream, Version: version + i + 1, Type: e.Name(),
			CorrelationID: correlation.ID(ctx), Payload: payload,
		}
	}
	if _, err := c.events.AppendInTx(ctx, tx, stored); err != nil {
		return fmt.Errorf("record changes of tenant %s: %w", tenantID, err)
	}
	return nil
}

// logChange is the security log's line for a change: who, from where, through what, and what changed by name.
func (c *ChangeLog) logChange(ctx context.Context, tenantID string, e tenant.Event) {
	actor := e.By()
	fields := logrus.Fields{
		"security": true, "tenant": tenantID, "route": actor.Via, "client": actor.Address, "actor": actor.Name,
		"reason": e.Name(), "request_id": correlation.ID(ctx),
	}
	msg := "tenant changed"
	switch ev := e.(type) {
	case tenant.Created:
		msg, fields["changes"] = "tenant created", ev.Changes
	case tenant.Changed:
		fields["changes"] = ev.Changes
	case tenant.APIKeyCreated:
		msg, fields["key"] = "API key created", ev.Key
	case tenant.APIKeyRevoked:
		msg, fields["key"] = "API key revoked", ev.Key
	}
	c.log.WithFields(fields).Info(msg)
}
