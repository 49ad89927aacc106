// Package eventstore is the append-only SQL event store. Appending an event also publishes it on the Watermill
// event bus in the same transaction, so the store and the bus never disagree.
package eventstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/storedpayload"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

// ErrConflict means another writer appended to the stream since it was loaded; load it again and retry.
var ErrConflict = errors.New("event stream version conflict")

// Event is a stored event and the envelope every event bus message carries.
type Event struct {
	ID            string          `json:"eventId"`
	Position      Position        `json:"position"`
	TenantID      string          `json:"tenantId"`
	StreamID      string          `json:"streamId"`
	Version       int             `json:"version"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	CorrelationID string          `json:"correlationId"`
	Payload       json.RawMessage `json:"payload"`
	// decoded is what Decode returns, when DecodeAll has decoded the event already: the projections consumer
	// decodes a batch once for all its projections, where each decoded every event again. A pointer, so that the
	// copies of the event the projections are handed share it.
	decoded *decodedEvent
}

// decodedEvent is Decode's result, kept.
type decodedEvent struct {
	event DomainEvent
	known bool
	err   error
}

// DomainEvent is an event as the domain declares it: a pass.Event, or an activity.Lifecycle.
type DomainEvent interface {
	Name() string
}

// Decode returns the domain event e records. It is the one place a stored payload is decoded, for every reader
// of the store: the pass repository, the projections and the delivery queue. known is false for a type no
// domain package declares (ProjectionSkipped, or an event written by a newer version), which a reader passes
// over. An error is an EventError, so a projection the event stops can name it.
func (e Event) Decode() (decoded DomainEvent, known bool, err error) {
	if d := e.decoded; d != nil {
		return d.event, d.known, d.err
	}
	return e.decode()
}

// DecodeAll decodes each event once and keeps the result, so that every later Decode of the event, or of a copy
// of it, returns it without reading the payload again. The events must not change afterwards.
func DecodeAll(events []Event) {
	for i := range events {
		if events[i].decoded == nil {
			d := &decodedEvent{}
			d.event, d.known, d.err = events[i].decode()
			events[i].decoded = d
		}
	}
}

func (e Event) decode() (decoded DomainEvent, known bool, err error) {
	decoded, known, err = pass.DecodeEvent(e.Type, e.Payload)
	if !known {
		decoded, known, err = activity.DecodeEvent(e.Type, e.Payload)
	}
	if !known {
		decoded, known, err = activity.DecodePassCheckEvent(e.Type, e.Payload)
	}
	if err != nil {
		return nil, true, e.Fail(err)
	}
	if !known {
		return nil, false, nil
	}
	return decoded, true, nil
}

// Batch is the events of one append, in order: the message the event bus carries. A message per append rather
// than per event lets a projection write an import's thousand passes with a few multi-row statements instead of
// a thousand round trips.
type Batch struct {
	Events []Event `json:"events"`
}

// Position is an event's place in the global order. On PostgreSQL it is the inserting transaction's id and then
// the row's sequence number; on SQLite TransactionID is always 0.
type Position struct {
	TransactionID int64 `json:"transactionId"`
	Sequence      int64 `json:"sequence"`
}

// After reports whether p comes after o in the global order.
func (p Position) After(o Position) bool {
	if p.TransactionID != o.TransactionID {
		return p.TransactionID > o.TransactionID
	}
	return p.Sequence > o.Sequence
}

// EventError is a failure that one event caused. A projection wraps what it cannot do with an event in it, so
// that a consumer stopped by the event can name it, and an operator can skip it by its position.
type EventError struct {
	EventID  string
	Position Position
	Err      error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %s at position %d: %v", e.EventID, e.Position.Sequence, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// Fail ties err to the event.
func (e Event) Fail(err error) error {
	return &EventError{EventID: e.ID, Position: e.Position, Err: err}
}

// MaxConflictRetries bounds a writer's reload-and-retry loop; only a stream written by many writers at once needs
// more than one.
const MaxConflictRetries = 20

// RetryConflicts runs try until it returns anything but ErrConflict, at most MaxConflictRetries times more. try
// is told whether an earlier try conflicted, so it can reload what it read.
func RetryConflicts(try func(retry bool) error) error {
	for attempt := 0; ; attempt++ {
		err := try(attempt > 0)
		if !errors.Is(err, ErrConflict) || attempt == MaxConflictRetries {
			return err
		}
	}
}

// Publisher puts events on the event bus inside the transaction that stores them, as one or more Batch messages.
type Publisher interface {
	PublishInTx(ctx context.Context, tx *sql.Tx, events []Event) error
}

// Store is the event store of one database.
type Store struct {
	db        *sqldb.DB
	publisher Publisher
}

// New returns a store that publishes every appended event with publisher.
func New(db *sqldb.DB, publisher Publisher) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("new event store: nil db")
	}
	if publisher == nil {
		return nil, fmt.Errorf("new event store: nil publisher")
	}
	return &Store{db: db, publisher: publisher}, nil
}

const (
	// insertChunk keeps one INSERT well below PostgreSQL's 65535 bind parameters.
	insertChunk = 500
	// rebuildPage is how many events a rebuild reads and hands to the projections at once.
	rebuildPage = 1000
)

// Append stores events, each with the stream version it expects to take, and publishes them, all in one
// transaction (a savepoint of the context's, if it carries one, so a conflict leaves that transaction usable
// for the retry). It fills in ID, OccurredAt and Position. A stream version that
// is already taken fails the whole append with ErrConflict.
func (s *Store) Append(ctx context.Context, events []Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	stored := prepare(events)
	err := sqldb.InSavepoint(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		return s.appendInTx(ctx, tx, stored)
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// prepare returns a copy of events with their ID and OccurredAt filled in.
func prepare(events []Event) []Event {
	stored := make([]Event, len(events))
	copy(stored, events)
	// Microseconds are what PostgreSQL keeps: the event returned and published is then the one Load reads back.
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range stored {
		if stored[i].ID == "" {
			stored[i].ID = uuid.Must(uuid.NewV7()).String()
		}
		if stored[i].OccurredAt.IsZero() {
			stored[i].OccurredAt = now
		}
		stored[i].OccurredAt = stored[i].OccurredAt.UTC().Truncate(time.Microsecond)
	}
	return stored
}

// AppendInTx is Append in tx, without a savepoint of its own, for a caller that writes more in the same
// savepoint. A conflict leaves tx unusable on PostgreSQL until that savepoint is rolled back.
func (s *Store) AppendInTx(ctx context.Context, tx *sql.Tx, events []Event) ([]Event, error) {
	stored := prepare(events)
	if err := s.appendInTx(ctx, tx, stored); err != nil {
		return nil, err
	}
	return stored, nil
}

func (s *Store) appendInTx(ctx context.Context, tx *sql.Tx, stored []Event) error {
	if len(stored) == 0 {
		return nil
	}
	for start := 0; start < len(stored); start += insertChunk {
		end := min(start+insertChunk, len(stored))
		if err := s.insert(ctx, tx, stored[start:end]); err != nil {
			return err
		}
	}
	if err := s.publisher.PublishInTx(ctx, tx, stored); err != nil {
		return fmt.Errorf("publish %d events: %w", len(stored), err)
	}
	return nil
}

// eventColumnTypes are the types of the columns insert writes.
var eventColumnTypes = []string{sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeText, sqldb.TypeTimestamptz, sqldb.TypeText,
	sqldb.TypeText, sqldb.TypeBytea}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, events []Event) error {
	values := make([][]any, len(events))
	for i, e := range events {
		packed, err := storedpayload.Encode(e.Payload)
		if err != nil {
			return fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		values[i] = []any{e.ID, e.TenantID, e.StreamID, e.Version, e.Type, e.OccurredAt, e.CorrelationID, "", packed}
	}
	// One statement text whatever the number of events (sqldb.RowSource), in the order of events.
	source, args, err := s.db.Dialect.RowSource(1, eventColumnTypes, values)
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	q := `INSERT INTO events (event_id, tenant_id, stream_id, stream_version, event_type, occurred_at, correlation_id, ` + PayloadColumns + `) ` +
		source + ` RETURNING event_id, ` + s.db.Dialect.TransactionIDAsInt + `, position`

	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		if s.db.Dialect.IsUniqueViolation(err) {
			return fmt.Errorf("append to %s: %w", events[0].StreamID, ErrConflict)
		}
		return fmt.Errorf("insert events: %w", err)
	}
	defer rows.Close()
	positions := make(map[string]Position, len(events))
	for rows.Next() {
		var id string
		var p Position
		if err := rows.Scan(&id, &p.TransactionID, &p.Sequence); err != nil {
			return fmt.Errorf("scan event position: %w", err)
		}
		positions[id] = p
	}
	if err := rows.Err(); err != nil {
		if s.db.Dialect.IsUniqueViolation(err) {
			return fmt.Errorf("append to %s: %w", events[0].StreamID, ErrConflict)
		}
		return fmt.Errorf("insert events: %w", err)
	}
	for i := range events {
		p, ok := positions[events[i].ID]
		if !ok {
			return fmt.Errorf("insert events: no position returned for %s", events[i].ID)
		}
		events[i].Position = p
	}
	return nil
}

const selectEvent = `SELECT event_id, %s, position, tenant_id, stream_id, stream_version, event_type, occurred_at, correlation_id, ` + PayloadColumns + ` FROM events `

// Load returns the events of the tenant's streams, each stream in version order.
func (s *Store) Load(ctx context.Context, tenantID string, streamIDs ...string) (map[string][]Event, error) {
	streams := make(map[string][]Event, len(streamIDs))
	head := fmt.Sprintf(selectEvent, s.db.Dialect.TransactionIDAsInt) + `WHERE tenant_id = $1 AND `
	err := sqldb.QueryIn(ctx, s.db, head, "stream_id", ` ORDER BY stream_id, stream_version`, []any{tenantID}, streamIDs,
		func(rows *sql.Rows) error {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			streams[e.StreamID] = append(streams[e.StreamID], e)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("load streams of tenant %s: %w", tenantID, err)
	}
	return streams, nil
}

// Get returns the tenant's events with the given ids, by id; an id the tenant has no event with is left out.
func (s *Store) Get(ctx context.Context, tenantID string, eventIDs ...string) (map[string]Event, error) {
	events := make(map[string]Event, len(eventIDs))
	head := fmt.Sprintf(selectEvent, s.db.Dialect.TransactionIDAsInt) + `WHERE tenant_id = $1 AND `
	err := sqldb.QueryIn(ctx, s.db, head, "event_id", "", []any{tenantID}, eventIDs, func(rows *sql.Rows) error {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		events[e.ID] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %d events of tenant %s: %w", len(eventIDs), tenantID, err)
	}
	return events, nil
}

// ReadAll returns up to limit events after the position, in global order, from all tenants. It only returns events
// whose transaction is older than every running one, so a caller that pages through never skips a late commit.
func (s *Store) ReadAll(ctx context.Context, after Position, limit int) ([]Event, error) {
	d := s.db.Dialect
	q := readAllQuery(d)
	var events []Event
	// The position's transaction id is compared as the column's own type: compared as an integer, the column
	// could not use the index in global order, and each page would scan and sort the whole store. Each call is
	// planned with its values: a generic plan, which cannot tell how far into the store the position is, chose
	// that scan too once the store held a million events.
	err := s.query(ctx, q, d.Planned(strconv.FormatInt(after.TransactionID, 10), after.Sequence, limit), func(e Event) { events = append(events, e) })
	if err != nil {
		return nil, fmt.Errorf("read events after %+v: %w", after, err)
	}
	return events, nil
}

// Each calls fn with every visible event in global order.
func (s *Store) Each(ctx context.Context, fn func(e *Event) error) error {
	return s.eachPage(ctx, func(page []Event) error {
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// readAllQuery is ReadAll's statement. Its ORDER BY names the table's columns, events.transaction_id: a bare
// transaction_id names the select list's column of that name first, which is the id cast to an integer, and
// PostgreSQL then sorted every event after the position, on each page, instead of walking the primary key (1.5 s
// a page of 5,000 in a store of 300,000, against 18 ms). A rebuild's pages got slower as the store grew.
func readAllQuery(d sqldb.Dialect) string {
	return fmt.Sprintf(selectEvent, d.TransactionIDAsInt) +
		fmt.Sprintf(`WHERE (transaction_id, position) > (%s, $2) AND %s ORDER BY events.transaction_id, events.position LIMIT $3`,
			d.TransactionIDFromText, d.VisibleEvents)
}

func (s *Store) eachPage(ctx context.Context, fn func(page []Event) error) error {
	var after Position
	for {
		page, err := s.ReadAll(ctx, after, rebuildPage)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		after = page[len(page)-1].Position
	}
}

func (s *Store) query(ctx context.Context, q string, args []any, each func(Event)) error {
	rows, err := sqldb.ReaderFor(ctx, s.db).QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		each(e)
	}
	return rows.Err()
}

func scanEvent(rows *sql.Rows) (Event, error) {
	var e Event
	var text string
	var packed []byte
	if err := rows.Scan(&e.ID, &e.Position.TransactionID, &e.Position.Sequence, &e.TenantID, &e.StreamID,
		&e.Version, &e.Type, &e.OccurredAt, &e.CorrelationID, &text, &packed); err != nil {
		return Event{}, fmt.Errorf("scan event: %w", err)
	}
	e.OccurredAt = e.OccurredAt.UTC()
	payload, err := DecodePayload(text, packed)
	if err != nil {
		return Event{}, e.Fail(err)
	}
	e.Payload = payload
	return e, nil
}

// StreamVersion returns the version of the stream's last event, 0 for an empty stream, for writers that append
// without loading the whole stream.
func (s *Store) StreamVersion(ctx context.Context, tenantID, streamID string) (int, error) {
	var version int
	err := sqldb.ReaderFor(ctx, s.db).QueryRowContext(ctx, `SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE tenant_id = $1 AND stream_id = $2`,
		tenantID, streamID).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("version of stream %s: %w", streamID, err)
	}
	return version, nil
}
