package query

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FailedDeliveries lists a tenant's updates whose last outcome is PushUpdateFailed: those a redrive would queue
// again. It reads a page of passes at a time, in pass order; After is the previous page's Next.
type FailedDeliveries struct {
	TenantID string
	// JourneyID keeps the updates of one journey.
	JourneyID string
	// Channel keeps the updates on which this channel failed.
	Channel string
	// Since keeps the updates that failed at or after it.
	Since time.Time
	After string
	// Limit bounds the events a page reads; a page may hold fewer failures, or none, and still have a Next.
	Limit int
}

// FailedDelivery is one update whose delivery failed, with the channels that failed it.
type FailedDelivery struct {
	PassID string `json:"passId"`
	// EventID is the PassUpdateScheduled event's id, which a redriven delivery keeps, so receivers dedupe on it.
	EventID   string    `json:"eventId"`
	Revision  int       `json:"revision"`
	JourneyID string    `json:"journeyId"`
	FailedAt  time.Time `json:"failedAt"`
	// Reason is the PushUpdateFailed event's.
	Reason   string          `json:"reason"`
	Channels []FailedChannel `json:"channels"`
}

// FailedChannel is one channel that failed an update, and why.
type FailedChannel struct {
	Channel string `json:"channel"`
	Detail  string `json:"detail"`
}

// FailedDeliveriesPage is one page of failed deliveries. Next is empty on the last page.
type FailedDeliveriesPage struct {
	Deliveries []FailedDelivery
	Next       string
}

// FailedDeliveriesReadModel finds failed deliveries.
type FailedDeliveriesReadModel interface {
	FailedDeliveries(ctx context.Context, q FailedDeliveries) (FailedDeliveriesPage, error)
}

// ErrInvalidFailedDeliveries is wrapped by the errors of a listing that cannot mean anything.
var ErrInvalidFailedDeliveries = errors.New("invalid failed deliveries query")

// MaxFailedDeliveriesLimit caps the events one page of failed deliveries reads.
const MaxFailedDeliveriesLimit = 10000

// FailedDeliveriesHandler handles FailedDeliveries.
type FailedDeliveriesHandler struct {
	readModel FailedDeliveriesReadModel
}

// NewFailedDeliveriesHandler returns a handler that reads from readModel.
func NewFailedDeliveriesHandler(readModel FailedDeliveriesReadModel) FailedDeliveriesHandler {
	if readModel == nil {
		panic("nil failed deliveries read model")
	}
	return FailedDeliveriesHandler{readModel: readModel}
}

// Handle returns one page of failed deliveries.
func (h FailedDeliveriesHandler) Handle(ctx context.Context, q FailedDeliveries) (FailedDeliveriesPage, error) {
	if q.TenantID == "" {
		return FailedDeliveriesPage{}, fmt.Errorf("%w: a tenant is required", ErrInvalidFailedDeliveries)
	}
	if q.Limit <= 0 || q.Limit > MaxFailedDeliveriesLimit {
		q.Limit = MaxPageLimit
	}
	page, err := h.readModel.FailedDeliveries(ctx, q)
	if err != nil {
		return FailedDeliveriesPage{}, fmt.Errorf("failed deliveries of tenant %s: %w", q.TenantID, err)
	}
	return page, nil
}

// FailedDeliveriesPager is what EachFailedDelivery reads pages from: the handler, or the handler decorated.
type FailedDeliveriesPager interface {
	Handle(ctx context.Context, q FailedDeliveries) (FailedDeliveriesPage, error)
}

// EachFailedDelivery calls fn with every failed delivery q finds, page after page.
func EachFailedDelivery(ctx context.Context, h FailedDeliveriesPager, q FailedDeliveries, fn func(FailedDelivery) error) error {
	for {
		page, err := h.Handle(ctx, q)
		if err != nil {
			return err
		}
		for _, d := range page.Deliveries {
			if err := fn(d); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}
