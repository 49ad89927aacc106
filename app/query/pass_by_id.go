package query

import (
	"context"
	"fmt"
)

// PassByID reads one pass. With MinStreamVersion set it waits, up to the context's deadline, until the read model
// has applied that version of the pass's stream, so a client reads its own write.
type PassByID struct {
	TenantID         string
	PassID           string
	MinStreamVersion int
}

// PassGetter is the part of the passes read model PassByID needs.
type PassGetter interface {
	// Get returns the pass or pass.ErrNotFound; it waits for minStreamVersion as PassByID describes.
	Get(ctx context.Context, tenantID, passID string, minStreamVersion int) (Pass, error)
}

// PassByIDHandler handles PassByID.
type PassByIDHandler struct {
	passes PassGetter
}

// NewPassByIDHandler returns a handler that reads from passes.
func NewPassByIDHandler(passes PassGetter) PassByIDHandler {
	if passes == nil {
		panic("nil passes read model")
	}
	return PassByIDHandler{passes: passes}
}

// Handle returns the pass.
func (h PassByIDHandler) Handle(ctx context.Context, q PassByID) (Pass, error) {
	p, err := h.passes.Get(ctx, q.TenantID, q.PassID, q.MinStreamVersion)
	if err != nil {
		return Pass{}, fmt.Errorf("get pass %s: %w", q.PassID, err)
	}
	return p, nil
}
