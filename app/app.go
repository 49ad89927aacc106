// Package app is what passpush can do, as commands that change state, queries that read it, and the push of an
// update to a pass's channels, which does neither. Ports call it; adapters implement the interfaces it declares.
//
// Every command and query handler is held by its shape (most take a value and return a result and an error) and
// wrapped in the same logging and metrics where the application is built, as wild-workouts-go-ddd-example's
// common/decorator does, so that no handler times, counts or logs its own calls. The wrappers are on the execute
// path, thousands of calls a second: the handler's name and its metric series are looked up once, when the
// handler is wrapped, and a call logs only when debug logging is on.
package app

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/sirupsen/logrus"
)

// Application is every command and query handler, and the fan-out that pushes an update to its pass's channels.
// The handlers are held by their shapes below, so that each can be wrapped in the same logging and metrics
// (Apply…Decorators) where the application is built.
type Application struct {
	Commands Commands
	Queries  Queries
	Push     push.FanOut
}

type Commands struct {
	RegisterPass CommandHandler[command.RegisterPass, command.RegisterPassResult]
	ImportPasses CommandHandler[command.ImportPasses, command.ImportPassesResult]
	SaveTenant   PairCommandHandler[command.SaveTenant, tenant.Tenant, bool]

	ScheduleFromJourney        CommandHandler[command.ScheduleFromJourney, int]
	ScheduleJourneyPassUpdates VoidCommandHandler[*command.ScheduleJourneyPassUpdates]
	RecordActivityLifecycle    CommandHandler[command.RecordActivityLifecycle, command.LifecycleOutcome]
	RecordPushOutcomes         VoidCommandHandler[command.RecordPushOutcomes]
	RedriveFailedDeliveries    CommandHandler[command.RedriveFailedDeliveries, command.RedriveResult]
	CheckPass                  CommandHandler[command.CheckPass, command.PassCheck]

	AddAppleCertificate CommandHandler[command.AddAppleCertificate, applepass.CertificateInfo]
	PutAppleTemplate    CommandHandler[command.PutAppleTemplate, command.PutAppleTemplateResult]
	MakeInstallLink     CommandHandler[command.MakeInstallLink, command.InstallLink]

	PutGoogleSettings CommandHandler[command.PutGoogleSettings, googlepass.SettingsInfo]
	PutGoogleClass    CommandHandler[command.PutGoogleClass, command.GoogleClassInfo]

	RegisterAppleDevice   CommandHandler[command.RegisterAppleDevice, bool]
	UnregisterAppleDevice VoidCommandHandler[command.UnregisterAppleDevice]

	CreateAPIKey CommandHandler[command.CreateAPIKey, command.CreatedAPIKey]
	RevokeAPIKey VoidCommandHandler[command.RevokeAPIKey]
}

type Queries struct {
	PassByID     QueryHandler[query.PassByID, query.Pass]
	FindPasses   QueryHandler[query.FindPasses, []query.Pass]
	ActiveTenant QueryHandler[string, tenant.Tenant]
	TenantByID   QueryHandler[string, tenant.Tenant]
	ListTenants  ListQueryHandler[[]tenant.Tenant]
	AuditLog     QueryHandler[query.AuditLog, []query.AuditEvent]
	// Events is the event export and the feed: a tenant's recorded events after a position.
	Events QueryHandler[query.Events, query.EventsPage]

	FailedDeliveries QueryHandler[query.FailedDeliveries, query.FailedDeliveriesPage]

	AppleCertificates QueryHandler[query.AppleCertificates, []applepass.CertificateInfo]
	ApplePass         QueryHandler[query.ApplePass, query.ApplePassFile]
	CheckInstallLink  VoidQueryHandler[query.CheckInstallLink]

	GoogleSettings QueryHandler[query.GoogleSettings, googlepass.SettingsInfo]
	GoogleSaveLink QueryHandler[query.GoogleSaveLink, string]

	ApplePassHolder    QueryHandler[query.ApplePassHolder, query.HeldApplePass]
	UpdatedApplePasses QueryHandler[query.UpdatedApplePasses, query.UpdatedApplePassList]

	ListAPIKeys        QueryHandler[string, []tenant.APIKey]
	AuthenticateAPIKey QueryHandler[string, tenant.APIKey]
}

// Metrics hands out the series one handler's calls are recorded in.
type Metrics interface {
	// Handler returns the recorder of the calls of the handler named name; kind is "command" or "query".
	Handler(kind, name string) Recorder
}

// Recorder records one handler's calls.
type Recorder interface {
	// Done records a call that took d and ended with err (nil on success).
	Done(d time.Duration, err error)
}

// CommandHandler is a command handler that returns a result.
type CommandHandler[C, R any] interface {
	Handle(ctx context.Context, cmd C) (R, error)
}

// VoidCommandHandler is a command handler that returns only an error.
type VoidCommandHandler[C any] interface {
	Handle(ctx context.Context, cmd C) error
}

// PairCommandHandler is a command handler that returns two results, as SaveTenant does (the tenant, and whether
// it was created).
type PairCommandHandler[C, R1, R2 any] interface {
	Handle(ctx context.Context, cmd C) (R1, R2, error)
}

// QueryHandler is a query handler.
type QueryHandler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}

// VoidQueryHandler is a query handler that returns only an error, as CheckInstallLink does.
type VoidQueryHandler[Q any] interface {
	Handle(ctx context.Context, q Q) error
}

// ListQueryHandler is a query handler that takes no argument, as ListTenants does.
type ListQueryHandler[R any] interface {
	Handle(ctx context.Context) (R, error)
}

// ApplyCommandDecorators wraps h in the logging and metrics of every handler.
func ApplyCommandDecorators[C, R any](h CommandHandler[C, R], log *logrus.Entry, metrics Metrics) CommandHandler[C, R] {
	return commandDecorator[C, R]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyVoidCommandDecorators is ApplyCommandDecorators for a handler that returns only an error.
func ApplyVoidCommandDecorators[C any](h VoidCommandHandler[C], log *logrus.Entry, metrics Metrics) VoidCommandHandler[C] {
	return voidCommandDecorator[C]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyPairCommandDecorators is ApplyCommandDecorators for a handler that returns two results.
func ApplyPairCommandDecorators[C, R1, R2 any](h PairCommandHandler[C, R1, R2], log *logrus.Entry, metrics Metrics) PairCommandHandler[C, R1, R2] {
	return pairCommandDecorator[C, R1, R2]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyQueryDecorators wraps h in the logging and metrics of every handler.
func ApplyQueryDecorators[Q, R any](h QueryHandler[Q, R], log *logrus.Entry, metrics Metrics) QueryHandler[Q, R] {
	return commandDecorator[Q, R]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// ApplyVoidQueryDecorators is ApplyQueryDecorators for a query that returns only an error.
func ApplyVoidQueryDecorators[Q any](h VoidQueryHandler[Q], log *logrus.Entry, metrics Metrics) VoidQueryHandler[Q] {
	return voidCommandDecorator[Q]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// ApplyListQueryDecorators is ApplyQueryDecorators for a query that takes no argument.
func ApplyListQueryDecorators[R any](h ListQueryHandler[R], log *logrus.Entry, metrics Metrics) ListQueryHandler[R] {
	return listQueryDecorator[R]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// calls is what every wrapper shares: the handler's logger and its recorder.
type calls struct {
	log      *logrus.Entry
	recorder Recorder
}

func newCalls(handler any, kind string, log *logrus.Entry, metrics Metrics) calls {
	if log == nil || metrics == nil {
		panic("app: nil log or metrics for a handler's decorator")
	}
	name := HandlerName(handler)
	return calls{log: log.WithFields(logrus.Fields{"handler": name, "kind": kind}), recorder: metrics.Handler(kind, name)}
}

// HandlerName is the name a handler's calls are logged and counted under: its type's name without "Handler",
// e.g. ScheduleFromJourney for command.ScheduleFromJourneyHandler.
func HandlerName(handler any) string {
	t := reflect.TypeOf(handler)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSuffix(t.Name(), "Handler")
}

func (c calls) done(ctx context.Context, start time.Time, err error) {
	d := time.Since(start)
	c.recorder.Done(d, err)
	// Ports log what a failure means to their caller; here a call is traced only for debugging.
	if c.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		entry := c.log.WithContext(ctx).WithField("duration_ms", float64(d.Microseconds())/1000)
		if err != nil {
			entry = entry.WithError(err)
		}
		entry.Debug("handled")
	}
}

// commandDecorator wraps a handler that takes a value and returns a result: a command's, or a query's.
type commandDecorator[C, R any] struct {
	base  CommandHandler[C, R]
	calls calls
}

func (d commandDecorator[C, R]) Handle(ctx context.Context, cmd C) (R, error) {
	start := time.Now()
	r, err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return r, err
}

type voidCommandDecorator[C any] struct {
	base  VoidCommandHandler[C]
	calls calls
}

func (d voidCommandDecorator[C]) Handle(ctx context.Context, cmd C) error {
	start := time.Now()
	err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return err
}

type pairCommandDecorator[C, R1, R2 any] struct {
	base  PairCommandHandler[C, R1, R2]
	calls calls
}

func (d pairCommandDecorator[C, R1, R2]) Handle(ctx context.Context, cmd C) (R1, R2, error) {
	start := time.Now()
	r1, r2, err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return r1, r2, err
}

type listQueryDecorator[R any] struct {
	base  ListQueryHandler[R]
	calls calls
}

func (d listQueryDecorator[R]) Handle(ctx context.Context) (R, error) {
	start := time.Now()
	r, err := d.base.Handle(ctx)
	d.calls.done(ctx, start, err)
	return r, err
}
