package command

import (
	"context"
	"fmt"

	"github.com/passpush/passpush/domain/pass"
)

// ImportPasses registers many passes of one tenant at once. The batch is stored in one transaction.
type ImportPasses struct {
	TenantID string
	Passes   []RegisterPass
}

// ImportPassesResult counts what the import changed. Last is the last pass it changed, so a caller can wait for
// the read model to catch up with the whole batch.
type ImportPassesResult struct {
	Created, Changed, Unchanged int
	Last                        *RegisterPassResultOf
}

// RegisterPassResultOf is a RegisterPassResult with the pass it is about.
type RegisterPassResultOf struct {
	PassID string
	RegisterPassResult
}

// ImportPassesHandler handles ImportPasses.
type ImportPassesHandler struct {
	passes pass.Repository
}

// NewImportPassesHandler returns a handler that stores passes in passes.
func NewImportPassesHandler(passes pass.Repository) ImportPassesHandler {
	if passes == nil {
		panic("nil pass repository")
	}
	return ImportPassesHandler{passes: passes}
}

// Handle registers every pass of the batch. The details must be valid: a caller that reads a file validates each
// line first, so one bad line does not fail the batch.
func (h ImportPassesHandler) Handle(ctx context.Context, cmd ImportPasses) (ImportPassesResult, error) {
	byID := make(map[string]pass.Details, len(cmd.Passes))
	ids := make([]string, 0, len(cmd.Passes))
	for _, p := range cmd.Passes {
		if _, dup := byID[p.PassID]; !dup {
			ids = append(ids, p.PassID)
		}
		// A later line for the same pass wins, as if the lines were registered one by one.
		byID[p.PassID] = p.Details
	}
	// The repository calls update again for every pass after a version conflict, so outcomes are kept per pass
	// and counted once it is done.
	outcomes := make(map[string]RegisterPassResult, len(ids))
	changed := make(map[string]bool, len(ids))
	err := h.passes.UpdateAll(ctx, cmd.TenantID, ids, func(p *pass.Pass) error {
		before := p.Version()
		created, err := p.Register(byID[p.ID()])
		if err != nil {
			return err
		}
		outcomes[p.ID()] = RegisterPassResult{Created: created, StreamVersion: p.Version()}
		changed[p.ID()] = p.Version() > before
		return nil
	})
	if err != nil {
		return ImportPassesResult{}, fmt.Errorf("import %d passes: %w", len(ids), err)
	}
	var result ImportPassesResult
	for _, id := range ids {
		o := outcomes[id]
		switch {
		case o.Created:
			result.Created++
		case changed[id]:
			result.Changed++
		default:
			result.Unchanged++
			continue
		}
		result.Last = &RegisterPassResultOf{PassID: id, RegisterPassResult: o}
	}
	return result, nil
}
