package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// RegisterPass creates a pass or replaces its details.
type RegisterPass struct {
	TenantID string
	PassID   string
	Details  pass.Details
}

// RegisterPassResult says whether the pass is new and which stream version holds the change, so a caller can wait
// for the read model to show it. Version is 0 when nothing changed: there is nothing to wait for.
type RegisterPassResult struct {
	Created bool
	// StreamVersion is the pass stream's version after the call: a read of the read model can wait for it.
	StreamVersion int
}

// RegisterPassHandler handles RegisterPass.
type RegisterPassHandler struct {
	passes pass.Repository
}

// NewRegisterPassHandler returns a handler that stores passes in passes.
func NewRegisterPassHandler(passes pass.Repository) RegisterPassHandler {
	if passes == nil {
		panic("nil pass repository")
	}
	return RegisterPassHandler{passes: passes}
}

// Handle registers the pass. Registering the same details again records nothing.
func (h RegisterPassHandler) Handle(ctx context.Context, cmd RegisterPass) (RegisterPassResult, error) {
	var result RegisterPassResult
	err := h.passes.Update(ctx, cmd.TenantID, cmd.PassID, func(p *pass.Pass) error {
		before := p.Version()
		created, err := p.Register(cmd.Details)
		result = RegisterPassResult{Created: created}
		if p.Version() > before {
			result.StreamVersion = p.Version()
		}
		return err
	})
	if err != nil {
		return RegisterPassResult{}, fmt.Errorf("register pass %s: %w", cmd.PassID, err)
	}
	return result, nil
}
