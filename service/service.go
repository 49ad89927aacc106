// Package service builds passpush from its parts: the database adapters, the buses, the application and its
// projections. main and the component tests both start passpush through it.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/sirupsen/logrus"
)

// TenantCacheTTL bounds how long a tenant change made by another process takes to apply.
const TenantCacheTTL = 2 * time.Second

// Service is passpush on one database.
type Service struct {
	DB             *sqldb.DB
	App            app.Application
	Bus            *messaging.Bus
	Events         *eventstore.Store
	PassProjection *passes.Projection
}

// New builds passpush on a migrated db. Run the bus to process commands and projections.
func New(db *sqldb.DB, busConfig messaging.Config, log *logrus.Entry) (*Service, error) {
	wlog := messaging.NewLogger(log.WithField("component", "watermill"))
	publisher, err := messaging.NewEventPublisher(db, wlog)
	if err != nil {
		return nil, err
	}
	events, err := eventstore.New(db, publisher)
	if err != nil {
		return nil, err
	}
	passRepo, err := passes.NewRepository(events)
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

	application := app.Application{
		Commands: app.Commands{
			RegisterPass: command.NewRegisterPassHandler(passRepo),
			ImportPasses: command.NewImportPassesHandler(passRepo),
			SaveTenant:   command.NewSaveTenantHandler(tenantCache),
		},
		Queries: app.Queries{
			PassByID:     query.NewPassByIDHandler(readModel),
			FindPasses:   query.NewFindPassesHandler(readModel),
			ActiveTenant: query.NewActiveTenantHandler(tenantCache),
			TenantByID:   query.NewTenantByIDHandler(tenantStore),
			ListTenants:  query.NewListTenantsHandler(tenantCache),
		},
	}

	bus, err := messaging.New(db, busConfig, wlog)
	if err != nil {
		return nil, err
	}
	if err := bus.AddProjection(passes.ProjectionName, projection.Handle); err != nil {
		return nil, err
	}
	registerPass := application.Commands.RegisterPass
	if err := bus.AddCommandHandler(cqrs.NewCommandHandler("RegisterPass", func(ctx context.Context, cmd *command.RegisterPass) error {
		_, err := registerPass.Handle(ctx, *cmd)
		return err
	})); err != nil {
		return nil, err
	}
	return &Service{DB: db, App: application, Bus: bus, Events: events, PassProjection: projection}, nil
}

// RunBus runs the buses until ctx ends and returns once every handler is subscribed, or with the error that
// kept the router from starting.
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
