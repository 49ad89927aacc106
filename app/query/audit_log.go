package query

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent is one event as the audit log shows it.
type AuditEvent struct {
	Position      int64           `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurredAt"`
	JourneyID     string          `json:"journeyId"`
	PassID        string          `json:"passId"`
	CorrelationID string          `json:"correlationId"`
	Data          json.RawMessage `json:"data"`
}

// AuditLog lists a tenant's events in the order the audit log recorded them, filtered, after a position.
type AuditLog struct {
	TenantID  string
	JourneyID string
	PassID    string
	Type      string
	After     int64
	Limit     int
}

// AuditReader is the audit log read model.
type AuditReader interface {
	List(ctx context.Context, q AuditLog) ([]AuditEvent, error)
}

// AuditLogHandler handles AuditLog.
type AuditLogHandler struct {
	audit AuditReader
}

// NewAuditLogHandler returns a handler that reads from audit.
func NewAuditLogHandler(audit AuditReader) AuditLogHandler {
	if audit == nil {
		panic("nil audit reader")
	}
	return AuditLogHandler{audit: audit}
}

// Handle returns one page of events.
func (h AuditLogHandler) Handle(ctx context.Context, q AuditLog) ([]AuditEvent, error) {
	q.Limit = pageLimit(q.Limit)
	events, err := h.audit.List(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("audit log of tenant %s: %w", q.TenantID, err)
	}
	return events, nil
}
