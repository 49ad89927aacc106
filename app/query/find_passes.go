package query

import (
	"context"
	"fmt"
	"strings"
)

// FindPasses lists a tenant's passes that match every filter given, ordered by pass id. Email matches
// case-insensitively. After is the last pass id of the previous page.
type FindPasses struct {
	TenantID string
	Email    string
	CustomID string
	PassType string
	After    string
	Limit    int
}

// PassFinder is the part of the passes read model FindPasses needs.
type PassFinder interface {
	Find(ctx context.Context, q FindPasses) ([]Pass, error)
}

// FindPassesHandler handles FindPasses.
type FindPassesHandler struct {
	passes PassFinder
}

// NewFindPassesHandler returns a handler that reads from passes.
func NewFindPassesHandler(passes PassFinder) FindPassesHandler {
	if passes == nil {
		panic("nil passes read model")
	}
	return FindPassesHandler{passes: passes}
}

// Handle returns one page of matching passes.
func (h FindPassesHandler) Handle(ctx context.Context, q FindPasses) ([]Pass, error) {
	q.Limit = pageLimit(q.Limit)
	q.Email = strings.ToLower(strings.TrimSpace(q.Email))
	passes, err := h.passes.Find(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("find passes of tenant %s: %w", q.TenantID, err)
	}
	return passes, nil
}
