package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event is one recorded event as the export and the feed show it. Position is its place in the audit log: the
// same number in an export's lines and in the feed's, so an export's last position can start a feed.
type Event struct {
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	StreamID      string          `json:"streamId"`
	JourneyID     string          `json:"journeyId"`
	PassID        string          `json:"passId"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

// Events reads a tenant's recorded events after a position, in the order they were recorded, filtered.
//
// The source is the audit log, not the events table, for three reasons. Its positions are handed out by the one
// consumer that writes it (the projections' consumer group, which holds its offsets row for a batch), so they
// become visible in the order they are numbered: a reader that follows the last position it saw skips nothing.
// The events table's positions come from a sequence that concurrent appends draw from and commit out of order;
// following one number there skips a late commit, and only the (transaction id, position) pair that the
// projections use is safe. The audit log is also indexed by tenant, carries the journey and the pass of each
// event, and keeps its rows when old events are archived from the store.
type Events struct {
	TenantID  string
	JourneyID string
	PassID    string
	// Types keeps the events of these types; empty keeps every type.
	Types []string
	// After is the position of the last event already seen; 0 starts at the beginning.
	After int64
	// Since and Until keep the events that occurred at or after Since and before Until; zero means no bound.
	Since, Until time.Time
	Limit        int
	// Wait is how long Handle waits for an event when there is none after After: a long poll. Zero answers at once.
	Wait time.Duration
}

// EventsPage is one page of events and where the next page starts: the position of its last event, or After when
// it has none, so a reader that always asks with after=Next sees every event once.
type EventsPage struct {
	Events []Event `json:"events"`
	Next   int64   `json:"next"`
}

// EventsReader is the audit log read model, read a page at a time.
type EventsReader interface {
	// Events returns up to q.Limit events of q.TenantID after q.After that match q's filters, in position
	// order. It ignores q.Wait.
	Events(ctx context.Context, q Events) ([]Event, error)
}

// ErrInvalidEventsQuery is a query the handler refuses: a limit, a wait or a time range out of bounds. The
// parameter's own errors wrap it, so a port can name the parameter.
var (
	ErrInvalidEventsQuery = errors.New("invalid events query")
	ErrInvalidEventsAfter = fmt.Errorf("%w: after", ErrInvalidEventsQuery)
	ErrInvalidEventsLimit = fmt.Errorf("%w: limit", ErrInvalidEventsQuery)
	ErrInvalidEventsWait  = fmt.Errorf("%w: wait", ErrInvalidEventsQuery)
)

// EventsConfig tunes the long poll. Zero fields take their defaults.
type EventsConfig struct {
	// PollInterval is how often a waiting request looks for new events. Each look is one short indexed query
	// on a pooled connection, given back at once: a waiting request holds no connection between looks.
	// Default 250ms.
	PollInterval time.Duration
	// MaxWait caps Events.Wait. Default 60s, well inside the HTTP server's write timeout.
	MaxWait time.Duration
}

// Default long-poll bounds.
const (
	DefaultEventsPollInterval = 250 * time.Millisecond
	DefaultEventsMaxWait      = 60 * time.Second
	// MaxEventsLimit is the largest page of events.
	MaxEventsLimit = 1000
)

func (c *EventsConfig) setDefaults() {
	if c.PollInterval == 0 {
		c.PollInterval = DefaultEventsPollInterval
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultEventsMaxWait
	}
}

// Validate reports a configuration the handler cannot run with.
func (c EventsConfig) Validate() error {
	if c.PollInterval <= 0 || c.MaxWait <= 0 {
		return errors.New("events config: the poll interval and the longest wait must be positive")
	}
	return nil
}

// EventsHandler handles Events.
type EventsHandler struct {
	events EventsReader
	config EventsConfig
}

// NewEventsHandler returns a handler that reads from events.
func NewEventsHandler(events EventsReader, config EventsConfig) EventsHandler {
	if events == nil {
		panic("nil events reader")
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		panic(err)
	}
	return EventsHandler{events: events, config: config}
}

func (h EventsHandler) validate(q Events) error {
	switch {
	case q.TenantID == "":
		return fmt.Errorf("%w: no tenant", ErrInvalidEventsQuery)
	case q.Limit < 1 || q.Limit > MaxEventsLimit:
		return fmt.Errorf("%w %d is not from 1 to %d", ErrInvalidEventsLimit, q.Limit, MaxEventsLimit)
	case q.After < 0:
		return fmt.Errorf("%w %d is negative", ErrInvalidEventsAfter, q.After)
	case q.Wait < 0 || q.Wait > h.config.MaxWait:
		return fmt.Errorf("%w %s is not from 0 to %s", ErrInvalidEventsWait, q.Wait, h.config.MaxWait)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return fmt.Errorf("%w: until %s is not after since %s", ErrInvalidEventsQuery, q.Until, q.Since)
	}
	return nil
}

// Handle returns the events after q.After. When there are none it looks again every poll interval until one
// comes, q.Wait passes or ctx ends (the client went away); then it answers an empty page whose Next is q.After.
func (h EventsHandler) Handle(ctx context.Context, q Events) (EventsPage, error) {
	if err := h.validate(q); err != nil {
		return EventsPage{}, err
	}
	deadline := time.Now().Add(q.Wait)
	var ticker *time.Ticker
	for {
		events, err := h.events.Events(ctx, q)
		if err != nil {
			if ctx.Err() != nil && q.Wait > 0 {
				// The client left while a look was running: nobody reads the answer.
				return EventsPage{Events: []Event{}, Next: q.After}, ctx.Err()
			}
			return EventsPage{}, fmt.Errorf("events of tenant %s after %d: %w", q.TenantID, q.After, err)
		}
		if len(events) > 0 {
			return EventsPage{Events: events, Next: events[len(events)-1].Position}, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return EventsPage{Events: []Event{}, Next: q.After}, nil
		}
		if ticker == nil {
			ticker = time.NewTicker(h.config.PollInterval)
			defer ticker.Stop()
		}
		timeout := time.NewTimer(left)
		select {
		case <-ctx.Done():
			timeout.Stop()
			return EventsPage{Events: []Event{}, Next: q.After}, ctx.Err()
		case <-timeout.C:
			// One last look at the deadline, so an event that came in the last interval is not left for the next
			// request.
		case <-ticker.C:
			timeout.Stop()
		}
	}
}

// EventsPager is what EachEvent reads pages from: the handler, or the handler decorated.
type EventsPager interface {
	Handle(ctx context.Context, q Events) (EventsPage, error)
}

// EachEvent calls fn with every event after q.After that matches q, in position order, reading a page of q.Limit
// at a time by position (a keyset cursor): memory stays that of one page however many events there are, and no
// read holds a transaction open, which on PostgreSQL would hold back every subscriber's cut-off. q.Wait is
// ignored. It stops at the first error of fn.
func EachEvent(ctx context.Context, h EventsPager, q Events, fn func(Event) error) error {
	q.Wait = 0
	for {
		page, err := h.Handle(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page.Events) < q.Limit {
			return nil
		}
		q.After = page.Next
	}
}
