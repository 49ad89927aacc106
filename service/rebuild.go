package service

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/passes"
	rebuilder "github.com/passpush/passpush/adapters/rebuild"
	"github.com/passpush/passpush/app/rebuild"
)

// ProjectionsAll names every projection to `passpush projections rebuild`.
const ProjectionsAll = "all"

// rebuildTargets are the projections that a rebuild fills anew into new tables and swaps in.
func (s *Service) rebuildTargets() []rebuilder.Target {
	return []rebuilder.Target{
		// A pass whose first events are archived keeps its row: the events left are replayed onto it, and the
		// projection passes over every one the row already has (stream_version). Its snapshot could not stand in
		// for it: the row also holds the position and time of the pass's last change, which a snapshot does not.
		{Name: ProjectionPasses, Table: "passes", Key: []string{"tenant_id", "pass_id"},
			Into: func(table string) rebuilder.Handler { return s.PassProjection.Into(table).Handle },
			Keep: rebuilder.Keep{Where: passes.ArchivedPass("passes")}},
		// A rebuild numbers the audit log anew: positions are not compared. The rows of archived events stay, first,
		// in their order: they are older than every event left.
		{Name: ProjectionAudit, Table: "audit_log", Key: []string{"event_id"}, Ignore: []string{"position"},
			Into: func(table string) rebuilder.Handler { return s.AuditLog.Into(table).Handle },
			Keep: rebuilder.Keep{Where: `NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = ` + audit.EventIDColumn("audit_log") + `)`,
				Columns: []string{"event_id", "event_text_id", "tenant_id", "event_type", "occurred_at", "journey_id", "pass_id", "correlation_id", "data", "stream_id", "archived"},
				OrderBy: "position"}},
		{Name: ProjectionAppleRegistrations, Table: "apple_registrations", Key: []string{"tenant_id", "pass_id", "device_library_id"},
			Into: func(table string) rebuilder.Handler { return s.appleRegistrations.Into(table).Handle },
			Keep: rebuilder.Keep{Where: passes.ArchivedPass("apple_registrations")}},
	}
}

// RebuildProjections rebuilds projections from the event store while serve may run on the same database: the
// read models (passes, audit, apple_registrations) into new tables swapped in at the end, the delivery queue by
// queueing again the updates it lost. all, or empty, is every one. Dry, it compares instead and changes nothing.
func (s *Service) RebuildProjections(ctx context.Context, options rebuild.Options) (rebuild.Report, error) {
	name := options.Projection
	if name == "" {
		name = ProjectionsAll
	}
	var targets []rebuilder.Target
	for _, t := range s.rebuildTargets() {
		if name == ProjectionsAll || name == t.Name {
			targets = append(targets, t)
		}
	}
	deliveries := name == ProjectionsAll || name == ProjectionDeliveries
	if len(targets) == 0 && !deliveries {
		return rebuild.Report{}, fmt.Errorf("rebuild %q: %w", name, messaging.ErrUnknownProjection)
	}
	// Both rebuilds read the events visible in transaction order, which stop short of a transaction still open
	// on the server (on any of its databases). The live group's unacked messages catch that tail up, but not
	// where the group has never run, nor the requeue's own read: wait for what was in flight at the start.
	if err := s.DB.AwaitCommitted(ctx); err != nil {
		return rebuild.Report{}, fmt.Errorf("rebuild projections: %w", err)
	}
	r, err := rebuilder.New(s.DB, s.Events, ProjectionsGroup, s.log.WithField("component", "rebuild"))
	if err != nil {
		return rebuild.Report{}, err
	}
	start := time.Now()
	report := rebuild.Report{}
	if len(targets) > 0 {
		if report, err = r.Rebuild(ctx, targets, options); err != nil {
			return report, fmt.Errorf("rebuild projections: %w", err)
		}
	}
	if deliveries {
		if options.Progress != nil {
			options.Progress(rebuild.Progress{Phase: "requeue", Done: report.Events, Total: report.Events, Elapsed: time.Since(start)})
		}
		hold := func(ctx context.Context, tx *sql.Tx) ([]eventstore.Event, error) { return r.Hold(ctx, tx) }
		if report.Requeued, err = s.Deliveries.RequeueUndelivered(ctx, s.Events, hold, options.DryRun); err != nil {
			return report, fmt.Errorf("rebuild projections: %w", err)
		}
		report.Projections = append(report.Projections, ProjectionDeliveries)
	}
	report.Took = time.Since(start)
	return report, nil
}
