package service

import (
	"context"
	"time"

	"github.com/passpush/passpush/adapters/eventarchive"
)

// ArchiveEvents moves the events before before that nothing needs any more to a gzip JSON lines file at path and
// deletes them from the store (eventarchive.Archiver.Archive).
func (s *Service) ArchiveEvents(ctx context.Context, before time.Time, path string) (eventarchive.Result, error) {
	a, err := eventarchive.New(s.DB, s.Events, s.AuditLog)
	if err != nil {
		return eventarchive.Result{}, err
	}
	return a.Archive(ctx, before, path)
}
