// Package app is what passpush can do, as commands that change state, queries that read it, and the push of an
// update to a pass's channels, which does neither. Ports call it; adapters implement the interfaces it declares.
package app

import (
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/decorator"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/tenant"
)

// Application is every command and query handler, and the fan-out that pushes an update to its pass's channels.
// The handlers are held by the shape decorator declares, so that each can be wrapped in the same logging and
// metrics where the application is built.
type Application struct {
	Commands Commands
	Queries  Queries
	Push     push.FanOut
}

type Commands struct {
	RegisterPass decorator.CommandHandler[command.RegisterPass, command.RegisterPassResult]
	ImportPasses decorator.CommandHandler[command.ImportPasses, command.ImportPassesResult]
	SaveTenant   decorator.PairCommandHandler[command.SaveTenant, tenant.Tenant, bool]

	ScheduleFromJourney        decorator.CommandHandler[command.ScheduleFromJourney, int]
	ScheduleJourneyPassUpdates decorator.VoidCommandHandler[*command.ScheduleJourneyPassUpdates]
	RecordActivityLifecycle    decorator.CommandHandler[command.RecordActivityLifecycle, command.LifecycleOutcome]
	RecordPushOutcomes         decorator.VoidCommandHandler[command.RecordPushOutcomes]
	RedriveFailedDeliveries    decorator.CommandHandler[command.RedriveFailedDeliveries, command.RedriveResult]
	CheckPass                  decorator.CommandHandler[command.CheckPass, command.PassCheck]

	AddAppleCertificate decorator.CommandHandler[command.AddAppleCertificate, applepass.CertificateInfo]
	PutAppleTemplate    decorator.CommandHandler[command.PutAppleTemplate, command.PutAppleTemplateResult]
	MakeInstallLink     decorator.CommandHandler[command.MakeInstallLink, command.InstallLink]

	PutGoogleSettings decorator.CommandHandler[command.PutGoogleSettings, googlepass.SettingsInfo]
	PutGoogleClass    decorator.CommandHandler[command.PutGoogleClass, command.GoogleClassInfo]

	RegisterAppleDevice   decorator.CommandHandler[command.RegisterAppleDevice, bool]
	UnregisterAppleDevice decorator.VoidCommandHandler[command.UnregisterAppleDevice]

	CreateAPIKey decorator.CommandHandler[command.CreateAPIKey, command.CreatedAPIKey]
	RevokeAPIKey decorator.VoidCommandHandler[command.RevokeAPIKey]
}

type Queries struct {
	PassByID     decorator.QueryHandler[query.PassByID, query.Pass]
	FindPasses   decorator.QueryHandler[query.FindPasses, []query.Pass]
	ActiveTenant decorator.QueryHandler[string, tenant.Tenant]
	TenantByID   decorator.QueryHandler[string, tenant.Tenant]
	ListTenants  decorator.ListQueryHandler[[]tenant.Tenant]
	AuditLog     decorator.QueryHandler[query.AuditLog, []query.AuditEvent]
	// Events is the event export and the feed: a tenant's recorded events after a position.
	Events decorator.QueryHandler[query.Events, query.EventsPage]

	FailedDeliveries decorator.QueryHandler[query.FailedDeliveries, query.FailedDeliveriesPage]

	AppleCertificates decorator.QueryHandler[query.AppleCertificates, []applepass.CertificateInfo]
	ApplePass         decorator.QueryHandler[query.ApplePass, query.ApplePassFile]
	CheckInstallLink  decorator.VoidQueryHandler[query.CheckInstallLink]

	GoogleSettings decorator.QueryHandler[query.GoogleSettings, googlepass.SettingsInfo]
	GoogleSaveLink decorator.QueryHandler[query.GoogleSaveLink, string]

	ApplePassHolder    decorator.QueryHandler[query.ApplePassHolder, query.HeldApplePass]
	UpdatedApplePasses decorator.QueryHandler[query.UpdatedApplePasses, query.UpdatedApplePassList]

	ListAPIKeys        decorator.QueryHandler[string, []tenant.APIKey]
	AuthenticateAPIKey decorator.QueryHandler[string, tenant.APIKey]
}
