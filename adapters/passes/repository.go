// Package passes stores pass aggregates in the event store and keeps the passes read model.
package passes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/correlation"
	"github.com/passpush/passpush/domain/pass"
)

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

// Repository implements pass.Repository on the event store. Each of a pass's two streams has a snapshot, written
// in the transaction that appends to the stream, so a load reads two small rows instead of the pass's history,
// and a stream without one has no events to read: a new pass costs no load of its events. The events stay the
// truth: a snapshot with an empty state (a stream stored before snapshots existed) is replayed, and so is every
// stream after a version conflict, which is also how a snapshot that fell behind its stream, or a stream written
// around the repository, is caught: the append takes a version that is already there.
type Repository struct {
	db     *sqldb.DB
	events *eventstore.Store
}

var _ pass.Repository = (*Repository)(nil)

// NewRepository returns a repository over events, keeping snapshots in db.
func NewRepository(db *sqldb.DB, events *eventstore.Store) (*Repository, error) {
	if db == nil || events == nil {
		return nil, errors.New("new pass repository: nil db or event store")
	}
	return &Repository{db: db, events: events}, nil
}

// Update implements pass.Repository.
func (r *Repository) Update(ctx context.Context, tenantID, passID string, update func(p *pass.Pass) error) error {
	return r.UpdateAll(ctx, tenantID, []string{passID}, update)
}

// UpdateAll implements pass.Repository.
func (r *Repository) UpdateAll(ctx context.Context, tenantID string, passIDs []string, update func(p *pass.Pass) error) error {
	passIDs = slices.Compact(slices.Sorted(slices.Values(passIDs)))
	return eventstore.RetryConflicts(func(replay bool) error {
		return r.updateOnce(ctx, tenantID, passIDs, update, replay)
	})
}

// loaded is a pass as loaded, with the version each of its streams had.
type loaded struct {
	pass     *pass.Pass
	versions map[string]int
}

func (r *Repository) updateOnce(ctx context.Context, tenantID string, passIDs []string, update func(p *pass.Pass) error, replay bool) error {
	passes, err := r.load(ctx, tenantID, passIDs, replay)
	if err != nil {
		return err
	}
	var changes []eventstore.Event
	var snapshots [][]any
	for _, id := range passIDs {
		l := passes[id]
		if err := update(l.pass); err != nil {
			return err
		}
		if len(l.pass.Changes()) == 0 {
			continue
		}
		version := maps.Clone(l.versions)
		for _, e := range l.pass.Changes() {
			stream := StreamID(id)
			if pass.IsPushOutcome(e) {
				stream = PushStreamID(id)
			}
			payload, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode %s of pass %s: %w", e.Name(), id, err)
			}
			version[stream]++
			correlationID := correlation.ID(ctx)
			if c, ok := e.(pass.Correlated); ok && c.Correlation() != "" {
				correlationID = c.Correlation()
			}
			changes = append(changes, eventstore.Event{
				TenantID:      tenantID,
				StreamID:      stream,
				Version:       version[stream],
				Type:          e.Name(),
				CorrelationID: correlationID,
				Payload:       payload,
			})
		}
		state, pushes := l.pass.Snapshot()
		for stream, v := range version {
			if v == l.versions[stream] {
				continue
			}
			var body any = state
			if stream == PushStreamID(id) {
				body = pushes
			}
			encoded, err := json.Marshal(body)
			if err != nil {
				return fmt.Errorf("encode snapshot of %s: %w", stream, err)
			}
			snapshots = append(snapshots, []any{tenantID, stream, v, string(encoded)})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	// Rows in one order, so two writers that share passes lock them in the same order and cannot deadlock.
	slices.SortFunc(snapshots, func(a, b []any) int { return strings.Compare(a[1].(string), b[1].(string)) })
	return sqldb.InSavepoint(ctx, r.db, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := r.events.AppendInTx(ctx, tx, changes); err != nil {
			return err
		}
		err := r.db.Dialect.InsertRows(ctx, tx, `INSERT INTO stream_snapshots (tenant_id, stream_id, version, state)`,
			`ON CONFLICT (tenant_id, stream_id) DO UPDATE SET version = excluded.version, state = excluded.state
			 WHERE stream_snapshots.version < excluded.version`, snapshotColumnTypes, snapshots)
		if err != nil {
			return fmt.Errorf("save %d snapshots: %w", len(snapshots), err)
		}
		return nil
	})
}

// snapshotColumnTypes are the types of a snapshot's values: one statement text whatever the number of
// snapshots (sqldb.RowSource), parsed and planned once per connection, where a VALUES list of each length was a
// statement of its own.
var snapshotColumnTypes = []string{sqldb.TypeText, sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeText}

// load returns the passes from their snapshots, replaying the streams marked for it (or all, with replay).
func (r *Repository) load(ctx context.Context, tenantID string, passIDs []string, replay bool) (map[string]*loaded, error) {
	streamIDs := make([]string, 0, 2*len(passIDs))
	for _, id := range passIDs {
		streamIDs = append(streamIDs, StreamID(id), PushStreamID(id))
	}
	snapshots, err := r.snapshots(ctx, tenantID, streamIDs)
	if err != nil {
		return nil, err
	}
	var replayed []string
	for _, s := range streamIDs {
		if snapshot, ok := snapshots[s]; replay || (ok && snapshot.state == "") {
			replayed = append(replayed, s)
		}
	}
	streams, err := r.events.Load(ctx, tenantID, replayed...)
	if err != nil {
		return nil, err
	}
	for _, s := range replayed {
		if snapshot, ok := snapshots[s]; ok && snapshot.state != "" && archived(streams[s]) {
			// The stream's first events are archived (passpush events archive takes only what its snapshot
			// covers): it is replayed from its snapshot instead of its first event.
			streams[s] = after(streams[s], snapshot.version)
			continue
		}
		delete(snapshots, s)
	}

	passes := make(map[string]*loaded, len(passIDs))
	for _, id := range passIDs {
		var state pass.Snapshot
		var pushes pass.PushSnapshot
		versions := map[string]int{}
		for _, stream := range []string{StreamID(id), PushStreamID(id)} {
			s, ok := snapshots[stream]
			if !ok {
				continue
			}
			target := any(&state)
			if stream == PushStreamID(id) {
				target = &pushes
			}
			if err := json.Unmarshal([]byte(s.state), target); err != nil {
				return nil, fmt.Errorf("decode snapshot of %s: %w", stream, err)
			}
			versions[stream] = s.version
		}
		p, err := pass.Restore(tenantID, id, state, pushes)
		if err != nil {
			return nil, err
		}
		// The pass's own events first: an outcome refers to a revision they make.
		for _, stream := range []string{StreamID(id), PushStreamID(id)} {
			for _, stored := range streams[stream] {
				e, known, err := stored.Decode()
				switch {
				case err != nil:
					return nil, fmt.Errorf("load pass %s: %w", id, err)
				case known:
					p.Apply(e)
				case stream == StreamID(id):
					p.Skip()
				}
				versions[stream] = stored.Version
			}
		}
		passes[id] = &loaded{pass: p, versions: versions}
	}
	return passes, nil
}

// archived reports whether a stream's first events are gone from the store: it starts past version 1, or it
// has a snapshot and no events at all.
func archived(events []eventstore.Event) bool {
	return len(events) == 0 || events[0].Version > 1
}

// after returns the events past version.
func after(events []eventstore.Event, version int) []eventstore.Event {
	for i, e := range events {
		if e.Version > version {
			return events[i:]
		}
	}
	return nil
}

type snapshotRow struct {
	version int
	state   string
}

func (r *Repository) snapshots(ctx context.Context, tenantID string, streamIDs []string) (map[string]snapshotRow, error) {
	out := make(map[string]snapshotRow, len(streamIDs))
	err := sqldb.QueryIn(ctx, r.db, `SELECT stream_id, version, state FROM stream_snapshots WHERE tenant_id = $1 AND `, "stream_id", "",
		[]any{tenantID}, streamIDs, func(rows *sql.Rows) error {
			var stream string
			var s snapshotRow
			if err := rows.Scan(&stream, &s.version, &s.state); err != nil {
				return fmt.Errorf("scan snapshot: %w", err)
			}
			out[stream] = s
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("load snapshots of tenant %s: %w", tenantID, err)
	}
	return out, nil
}
