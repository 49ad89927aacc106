// Package service builds passpush from its parts: the database adapters, the buses, the application, its
// projections and the delivery stage. main and the component tests both start passpush through it.
package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/passpush/passpush/adapters/activities"
	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/sirupsen/logrus"
)

const (
	// TenantCacheTTL bounds how long a tenant change made by another process takes to apply.
	TenantCacheTTL = 2 * time.Second
	// passUpdateWriteTimeout bounds the write of an execute call's updates; Journey Builder waits longer.
	passUpdateWriteTimeout = 10 * time.Second
)

// Config tunes the service's parts. Zero fields take their defaults.
type Config struct {
	Bus      messaging.Config
	Delivery delivery.Config
	// WebhookClient posts to tenants' webhooks; its timeout bounds one attempt.
	WebhookClient *http.Client
}

// Service is passpush on one database.
type Service struct {
	DB             *sqldb.DB
	App            app.Application
	Bus            *messaging.Bus
	Events         *eventstore.Store
	PassProjection *passes.Projection
	AuditLog       *audit.Log
	Deliveries     *delivery.Queue
	worker         *delivery.Worker
	log            *logrus.Entry
}

// New builds passpush on a migrated db. Run starts the buses and the delivery stage.
func New(db *sqldb.DB, config Config, log *logrus.Entry) (*Service, error) {
	if config.WebhookClient == nil {
		config.WebhookClient = newWebhookClient()
	}
	wlog := messaging.NewLogger(log.WithField("component", "watermill"))
	bus, err := messaging.New(db, config.Bus, log.WithField("component", "bus"))
	if err != nil {
		return nil, err
	}
	publisher, err := messaging.NewEventPublisher(db, wlog)
	if err != nil {
		return nil, err
	}
	events, err := eventstore.New(db, publisher)
	if err != nil {
		return nil, err
	}
	passRepo, err := passes.NewRepository(db, events)
	if err != nil {
		return nil, err
	}
	readModel, err := passes.NewReadModel(db)
	if err != nil {
		return nil, err
	}
	projection, err := passes.NewProjection(db)
	if err != nil {
		return nil, err
	}
	tenantStore, err := tenants.NewStore(db)
	if err != nil {
		return nil, err
	}
	tenantCache := tenants.NewCache(tenantStore, TenantCacheTTL)
	activityLog, err := activities.NewLog(events)
	if err != nil {
		return nil, err
	}
	auditLog, err := audit.NewLog(db)
	if err != nil {
		return nil, err
	}
	queue, err := delivery.NewQueue(db)
	if err != nil {
		return nil, err
	}
	channels, err := delivery.NewDirectory(tenantCache, config.WebhookClient)
	if err != nil {
		return nil, err
	}
	updateSender, err := messaging.NewPassUpdateSender(bus, passUpdateWriteTimeout)
	if err != nil {
		return nil, err
	}

	application := app.Application{
		Commands: app.Commands{
			RegisterPass:               command.NewRegisterPassHandler(passRepo),
			ImportPasses:               command.NewImportPassesHandler(passRepo),
			SaveTenant:                 command.NewSaveTenantHandler(tenantCache),
			ScheduleFromJourney:        command.NewScheduleFromJourneyHandler(readModel, updateSender),
			ScheduleJourneyPassUpdates: command.NewScheduleJourneyPassUpdatesHandler(passRepo, log.WithField("component", "schedule")),
			RecordActivityLifecycle:    command.NewRecordActivityLifecycleHandler(activityLog),
			RecordPushOutcomes:         command.NewRecordPushOutcomesHandler(passRepo),
		},
		Queries: app.Queries{
			PassByID:     query.NewPassByIDHandler(readModel),
			FindPasses:   query.NewFindPassesHandler(readModel),
			ActiveTenant: query.NewActiveTenantHandler(tenantCache),
			TenantByID:   query.NewTenantByIDHandler(tenantStore),
			ListTenants:  query.NewListTenantsHandler(tenantCache),
			AuditLog:     query.NewAuditLogHandler(auditLog),
		},
		Push: push.NewFanOut(channels),
	}

	worker, err := delivery.NewWorker(db, queue, updateSender, application.Push, application.Commands.RecordPushOutcomes,
		config.Delivery, log.WithField("component", "delivery"))
	if err != nil {
		return nil, err
	}
	if err := addHandlers(bus, application, projection, auditLog, queue); err != nil {
		return nil, err
	}
	return &Service{
		DB: db, App: application, Bus: bus, Events: events, PassProjection: projection,
		AuditLog: auditLog, Deliveries: queue, worker: worker, log: log,
	}, nil
}

// The consumer groups. A group's offsets are stored under its name: renaming one makes it handle again every
// message its topic ever had (every event into the projections, every command into its handler).
const (
	ProjectionsGroup      = "projections"
	ScheduleCommandsGroup = "ScheduleJourneyPassUpdates"
)

// The projections' names, as `passpush projections rebuild` and `skip` take them.
const (
	ProjectionPasses     = "passes"
	ProjectionAudit      = "audit"
	ProjectionDeliveries = "deliveries"
)

// addHandlers subscribes the projections and the command handlers.
//
// The three projections share one consumer group: each event is read, decoded and wrapped in a savepoint once
// instead of three times, which is most of what a projection costs. The price is that an event one of them
// can never take stops all three until it is fixed or skipped (`passpush projections skip`); execute goes on.
func addHandlers(bus *messaging.Bus, application app.Application, projection *passes.Projection, auditLog *audit.Log, queue *delivery.Queue) error {
	err := bus.AddProjections(ProjectionsGroup,
		messaging.Projection{Name: ProjectionPasses, Handle: projection.Handle},
		messaging.Projection{Name: ProjectionAudit, Handle: auditLog.Handle},
		messaging.Projection{Name: ProjectionDeliveries, Handle: queue.Enqueue})
	if err != nil {
		return err
	}
	return bus.AddCommandHandler(cqrs.NewCommandHandler(ScheduleCommandsGroup, application.Commands.ScheduleJourneyPassUpdates.Handle))
}

func newWebhookClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Deliveries run hundreds at a time, mostly to one host per tenant.
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 512
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

// Run starts the buses and the delivery stage and returns once every handler is subscribed. done yields when
// both have stopped after ctx ends.
func (s *Service) Run(ctx context.Context) (done <-chan error, err error) {
	if err := s.DB.Warm(ctx); err != nil {
		// A cold pool is slower for the first calls, not wrong.
		s.log.WithError(err).Warn("could not open the database connections ahead of need")
	}
	busDone, err := s.RunBus(ctx)
	if err != nil {
		return nil, err
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- s.worker.Run(ctx) }()
	all := make(chan error, 1)
	go func() { all <- errors.Join(<-busDone, <-workerDone) }()
	return all, nil
}

// RebuildProjections rebuilds the passes read model and the audit log from the event store, in one transaction,
// and returns how many events it replayed. Named deliveries instead, it queues again every update that has no
// outcome yet and returns how many it queued: replaying the whole delivery queue would deliver every update
// ever made again.
func (s *Service) RebuildProjections(ctx context.Context, projection string) (int, error) {
	var n int
	var err error
	switch projection {
	case "", ProjectionPasses, ProjectionAudit:
		n, err = s.Events.Rebuild(ctx,
			func(ctx context.Context, tx *sql.Tx) error {
				return errors.Join(s.PassProjection.Reset(ctx, tx), s.AuditLog.Reset(ctx, tx))
			},
			func(ctx context.Context, events []eventstore.Event) error {
				if err := s.PassProjection.Handle(ctx, events); err != nil {
					return err
				}
				return s.AuditLog.Handle(ctx, events)
			})
	case ProjectionDeliveries:
		n, err = s.Deliveries.RequeueUndelivered(ctx, s.Events)
	default:
		return 0, fmt.Errorf("rebuild %q: %w", projection, messaging.ErrUnknownProjection)
	}
	if err != nil {
		return 0, fmt.Errorf("rebuild projections: %w", err)
	}
	return n, nil
}

// SkipEvent tells a stopped projection to pass over the event at position, recording a ProjectionSkipped event.
func (s *Service) SkipEvent(ctx context.Context, projection string, position int64, reason string) (string, error) {
	e, err := s.Bus.Skip(ctx, s.Events, projection, position, reason)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// RunBus runs only the buses, for commands such as pass import that must not deliver.
func (s *Service) RunBus(ctx context.Context) (done <-chan error, err error) {
	errs := make(chan error, 1)
	go func() { errs <- s.Bus.Run(ctx) }()
	select {
	case <-s.Bus.Running():
		return errs, nil
	case err := <-errs:
		return nil, fmt.Errorf("start bus: %w", err)
	}
}
