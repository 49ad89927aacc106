// Package service builds passpush from its parts: the database adapters, the buses, the application, its
// projections and the delivery stage. main and the component tests both start passpush through it.
package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/passpush/passpush/adapters/activities"
	"github.com/passpush/passpush/adapters/apikeys"
	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/delivery"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/metrics"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/adapters/webhook"
	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	deliverystage "github.com/passpush/passpush/ports/delivery"
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
	Delivery deliverystage.Config
	// Webhook is the webhook policy (https, the addresses a webhook may reach) and the timeout of one attempt.
	Webhook webhook.Config
	// PublicURL is PASSPUSH_PUBLIC_URL: an Apple pass's webServiceURL is PublicURL + /api/{tenantId}/apple.
	PublicURL string
	// AppleAuthenticationTokens hands out each pass's authenticationToken; nil takes the PassKit web service's,
	// which it checks.
	AppleAuthenticationTokens query.AuthenticationTokens
	// GoogleAPIURL is the Wallet API's base URL, PASSPUSH_GOOGLE_API_URL; empty means Google's.
	GoogleAPIURL string
	// APNs tunes the Apple channel: APNs' address (PASSPUSH_APNS_URL), and for tests in one process the roots
	// APNs' certificate is checked against.
	APNs apple.ChannelConfig
	// Secrets seals the secrets stored in the database (channel credentials, SFMC signing secrets); required.
	// NewSecretBox builds it from the configured keys.
	Secrets *secretbox.Box
	// PassCheck tunes the "Wallet pass?" split: how old a Google install state may get, how long its refresh may
	// take, and the clock the age is measured on (tests move it by hand).
	PassCheck command.CheckPassConfig
	// Metrics names this instance in its metrics; zero fields take the host name and pid, and the build's version.
	Metrics metrics.Config
	// Feed tunes the event feed's long poll: how often a waiting request looks for events, and its longest wait.
	Feed query.EventsConfig
	// Retention is how long acknowledged messages stay in the message tables, and how they are pruned.
	Retention messaging.RetentionConfig
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
	worker         *deliverystage.Worker
	// Metrics is every series of this instance, on a registry of its own; Monitoring hands it to the HTTP port.
	Metrics *metrics.Metrics
	// appleRegistrations projects the devices registered for Apple passes.
	appleRegistrations *apple.RegistrationProjection
	// pruner keeps the message tables to what a consumer group may still read, plus the retention.
	pruner *messaging.Pruner
	log    *logrus.Entry
}

// New builds passpush on a migrated db: its adapters, the application on them, and the delivery stage, with the
// projections and the command handler subscribed. Run starts the buses and the delivery stage.
func New(db *sqldb.DB, config Config, log *logrus.Entry) (*Service, error) {
	m, err := newMetrics(db, config.Metrics)
	if err != nil {
		return nil, err
	}
	a, err := newAdapters(db, config, log)
	if err != nil {
		return nil, err
	}
	application, err := newApplication(a, log, m)
	if err != nil {
		return nil, err
	}
	application = decorate(application, log, m)
	config.Delivery.Outcomes = m
	worker, err := deliverystage.NewWorker(a.deliveries, a.updateSender, application.Push, application.Commands.RecordPushOutcomes,
		config.Delivery, log.WithField("component", "delivery"))
	if err != nil {
		return nil, err
	}
	s := &Service{
		DB: db, App: application, Bus: a.bus, Events: a.events, PassProjection: a.passProjection,
		AuditLog: a.auditLog, Deliveries: a.deliveries, worker: worker, log: log,
		appleRegistrations: a.apple.registrationProjection, Metrics: m,
	}
	if err := s.registerStageMetrics(); err != nil {
		return nil, err
	}
	if err := m.Register(metrics.NewCertificateExpiryCollector(a.appleCertificates, log.WithField("component", "metrics"))); err != nil {
		return nil, err
	}
	if err := s.subscribe(); err != nil {
		return nil, err
	}
	if s.pruner, err = newPruner(db, config.Retention, log); err != nil {
		return nil, err
	}
	return s, nil
}

// adapters are what the application runs on: the buses, the event store, and the stores and read models on the
// database.
type adapters struct {
	bus          *messaging.Bus
	events       *eventstore.Store
	updateSender *messaging.PassUpdateSender

	passRepo       *passes.Repository
	readModel      *passes.ReadModel
	passProjection *passes.Projection
	tenantStore    *tenants.Store
	tenantCache    *tenants.Cache
	tenantChanges  *tenants.ChangeLog
	apiKeys        *apikeys.Store
	activityLog    *activities.Log
	auditLog       *audit.Log
	deliveries     *delivery.Queue
	webhooks       webhook.Channel
	googleChannel  *google.Channel
	appleChannel   *apple.Channel
	// appleSignAhead: the Apple channel signs each pass before it pushes it (apple.ChannelConfig.SignAhead).
	appleSignAhead bool
	passCheck      command.CheckPassConfig
	feed           query.EventsConfig

	// failedDeliveries and redriver are the operator's redrive of failed deliveries.
	failedDeliveries *delivery.FailedDeliveries
	redriver         *delivery.Redriver

	apple  appleAdapters
	google googleAdapters

	// secrets seals the secrets the stores keep (Config.Secrets).
	secrets *secretbox.Box
}

// newAdapters builds the adapters on db.
func newAdapters(db *sqldb.DB, config Config, log *logrus.Entry) (*adapters, error) {
	if config.Secrets == nil {
		return nil, errors.New("new service: no secret box to seal the stored secrets with (Config.Secrets)")
	}
	a := &adapters{secrets: config.Secrets, passCheck: config.PassCheck, feed: config.Feed}
	if err := a.newMessaging(db, config.Bus, log); err != nil {
		return nil, err
	}
	if err := a.newStores(db, config.Webhook); err != nil {
		return nil, err
	}
	if err := a.newTenantSecurity(db, log); err != nil {
		return nil, err
	}
	if err := a.apple.build(db, config); err != nil {
		return nil, err
	}
	if err := a.google.build(db, config.Secrets, a.readModel, config.PublicURL); err != nil {
		return nil, err
	}
	googleChannel, err := newGoogleChannel(db, config.Secrets, a.google.objects, config.GoogleAPIURL)
	if err != nil {
		return nil, err
	}
	a.googleChannel = googleChannel
	if err := a.newAppleChannel(db, config.APNs); err != nil {
		return nil, err
	}
	a.appleSignAhead = config.APNs.SignAhead
	return a, nil
}

// newMessaging builds the buses, and the event store that publishes its events on the event bus.
func (a *adapters) newMessaging(db *sqldb.DB, config messaging.Config, log *logrus.Entry) error {
	var err error
	if a.bus, err = messaging.New(db, config, log.WithField("component", "bus")); err != nil {
		return err
	}
	publisher, err := messaging.NewEventPublisher(db, messaging.NewLogger(log.WithField("component", "watermill")))
	if err != nil {
		return err
	}
	if a.events, err = eventstore.New(db, publisher); err != nil {
		return err
	}
	a.updateSender, err = messaging.NewPassUpdateSender(a.bus, passUpdateWriteTimeout)
	return err
}

// newStores builds the repositories, the read models and the projections on db and the event store, and the
// directory of a pass's channels.
func (a *adapters) newStores(db *sqldb.DB, webhookConfig webhook.Config) error {
	var err error
	if a.passRepo, err = passes.NewRepository(db, a.events); err != nil {
		return err
	}
	if a.readModel, err = passes.NewReadModel(db); err != nil {
		return err
	}
	if a.passProjection, err = passes.NewProjection(db); err != nil {
		return err
	}
	if a.tenantStore, err = tenants.NewStore(db, a.secrets); err != nil {
		return err
	}
	a.tenantCache = tenants.NewCache(a.tenantStore, TenantCacheTTL)
	if a.activityLog, err = activities.NewLog(a.events); err != nil {
		return err
	}
	if a.auditLog, err = audit.NewLog(db); err != nil {
		return err
	}
	if a.deliveries, err = delivery.NewQueue(db); err != nil {
		return err
	}
	if a.failedDeliveries, err = delivery.NewFailedDeliveries(db); err != nil {
		return err
	}
	if a.redriver, err = delivery.NewRedriver(a.deliveries, a.passRepo, a.events); err != nil {
		return err
	}
	return a.newChannels(db, webhookConfig)
}

// newTenantSecurity builds the tenants' API keys and the log of their changes, which forgets the cached tenant
// once a change is committed: SaveTenant reads and writes the store itself, inside the change's transaction, so
// the change is made to, and its event describes, the tenant as committed, not a cached copy.
func (a *adapters) newTenantSecurity(db *sqldb.DB, log *logrus.Entry) error {
	var err error
	if a.apiKeys, err = apikeys.NewStore(db); err != nil {
		return err
	}
	a.tenantChanges, err = tenants.NewChangeLog(db, a.events, log.WithField("component", "security"), a.tenantCache.Forget)
	return err
}

// newChannels builds the channels a pass's updates go out through, each with its clients cached per credential.
func (a *adapters) newChannels(db *sqldb.DB, webhookConfig webhook.Config) error {
	store, err := credentials.NewStore(db, a.secrets)
	if err != nil {
		return err
	}
	webhooks, err := credentials.NewClients(store, credentials.KindWebhook,
		func(c credentials.Credential) (credentials.Webhook, error) { return credentials.DecodeWebhook(c.Data) },
		credentials.ClientsConfig{})
	if err != nil {
		return err
	}
	a.webhooks, err = webhook.NewChannel(webhookConfig, webhooks)
	return err
}

// newApplication builds the command and query handlers, and the fan-out to a pass's channels, on the adapters.
func newApplication(a *adapters, log *logrus.Entry, m *metrics.Metrics) (app.Application, error) {
	fanOut, err := push.NewFanOut(m.TimedChannel(a.webhooks), m.TimedChannel(a.googleChannel), m.TimedChannel(a.appleChannel))
	if err != nil {
		return app.Application{}, err
	}
	holders := query.NewApplePassHolderHandler(a.apple.tokenChecker, a.apple.templates)
	failedDeliveries := query.NewFailedDeliveriesHandler(a.failedDeliveries)
	checkPass, err := newCheckPassHandler(a)
	if err != nil {
		return app.Application{}, err
	}
	applePass := query.NewApplePassHandler(a.apple.sources, a.apple.templates, a.apple.certificates, a.apple.tokens,
		a.apple.publicURL)
	if a.appleSignAhead {
		// Before the worker starts: the channel signs into the cache the web service serves passes from.
		a.appleChannel.SignAheadWith(applePass)
	}
	return app.Application{
		Commands: app.Commands{
			RegisterPass:               command.NewRegisterPassHandler(a.passRepo),
			ImportPasses:               command.NewImportPassesHandler(a.passRepo),
			SaveTenant:                 command.NewSaveTenantHandler(a.tenantStore, a.tenantChanges, a.webhooks.Policy()),
			ScheduleFromJourney:        command.NewScheduleFromJourneyHandler(a.readModel, a.updateSender),
			ScheduleJourneyPassUpdates: command.NewScheduleJourneyPassUpdatesHandler(a.passRepo, log.WithField("component", "schedule")),
			RecordActivityLifecycle:    command.NewRecordActivityLifecycleHandler(a.activityLog),
			RecordPushOutcomes:         command.NewRecordPushOutcomesHandler(a.passRepo),
			RedriveFailedDeliveries:    command.NewRedriveFailedDeliveriesHandler(failedDeliveries, a.redriver),
			CheckPass:                  checkPass,

			AddAppleCertificate: command.NewAddAppleCertificateHandler(a.tenantStore, a.apple.certificates, a.tenantChanges),
			PutAppleTemplate: command.NewPutAppleTemplateHandler(a.tenantStore, apple.TemplateFiles{}, a.apple.templates,
				a.apple.certificates),
			MakeInstallLink: command.NewMakeInstallLinkHandler(a.readModel, a.apple.linkKeys),

			PutGoogleSettings: command.NewPutGoogleSettingsHandler(a.tenantStore, a.google.settings, a.tenantChanges),
			PutGoogleClass:    command.NewPutGoogleClassHandler(a.tenantStore, a.google.settings, a.google.classes),

			RegisterAppleDevice:   command.NewRegisterAppleDeviceHandler(holders, a.passRepo),
			UnregisterAppleDevice: command.NewUnregisterAppleDeviceHandler(holders, a.passRepo),

			CreateAPIKey: command.NewCreateAPIKeyHandler(a.tenantStore, a.apiKeys, a.tenantChanges),
			RevokeAPIKey: command.NewRevokeAPIKeyHandler(a.apiKeys, a.tenantChanges),
		},
		Queries: app.Queries{
			PassByID:     query.NewPassByIDHandler(a.readModel),
			FindPasses:   query.NewFindPassesHandler(a.readModel),
			ActiveTenant: query.NewActiveTenantHandler(a.tenantCache),
			TenantByID:   query.NewTenantByIDHandler(a.tenantStore),
			ListTenants:  query.NewListTenantsHandler(a.tenantCache),
			AuditLog:     query.NewAuditLogHandler(a.auditLog),
			Events:       query.NewEventsHandler(a.auditLog, a.feed),

			FailedDeliveries: failedDeliveries,

			AppleCertificates: query.NewAppleCertificatesHandler(a.tenantStore, a.apple.certificates),
			ApplePass:         applePass,
			CheckInstallLink:  query.NewCheckInstallLinkHandler(a.apple.linkKeys),

			GoogleSettings: query.NewGoogleSettingsHandler(a.tenantStore, a.google.settings),
			GoogleSaveLink: query.NewGoogleSaveLinkHandler(a.google.saveLinks),

			ApplePassHolder:    holders,
			UpdatedApplePasses: query.NewUpdatedApplePassesHandler(a.apple.registrations),

			ListAPIKeys:        query.NewListAPIKeysHandler(a.tenantStore, a.apiKeys),
			AuthenticateAPIKey: query.NewAuthenticateAPIKeyHandler(a.apiKeys),
		},
		Push: fanOut,
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
	// ProjectionAppleRegistrations is the devices registered for Apple passes' updates.
	ProjectionAppleRegistrations = "apple_registrations"
)

// projections are the projections, in the order each event is handed to them. A rebuild fills the same
// handlers into new tables (rebuildTargets).
func (s *Service) projections() []messaging.Projection {
	return []messaging.Projection{
		{Name: ProjectionPasses, Handle: s.PassProjection.Handle},
		{Name: ProjectionAudit, Handle: s.AuditLog.Handle},
		{Name: ProjectionDeliveries, Handle: s.Deliveries.Enqueue},
		{Name: ProjectionAppleRegistrations, Handle: s.appleRegistrations.Handle},
	}
}

// subscribe subscribes the projections and the command handlers.
//
// The projections share one consumer group: each event is read and wrapped in a savepoint once instead of once
// per projection, which is most of what a projection costs. The price is that an event one of them can never
// take stops them all until it is fixed or skipped (`passpush projections skip`); execute goes on.
func (s *Service) subscribe() error {
	if err := s.Bus.AddProjections(ProjectionsGroup, s.projections()...); err != nil {
		return err
	}
	return s.Bus.AddCommandHandler(cqrs.NewCommandHandler(ScheduleCommandsGroup, s.App.Commands.ScheduleJourneyPassUpdates.Handle))
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
	prunerDone := make(chan error, 1)
	go func() { prunerDone <- s.housekeep(ctx) }()
	all := make(chan error, 1)
	go func() { all <- errors.Join(<-busDone, <-workerDone, <-prunerDone) }()
	return all, nil
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
