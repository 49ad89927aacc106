// Package app is what passpush can do, as commands that change state, queries that read it, and the push of an
// update to a pass's channels, which does neither. Ports call it; adapters implement the interfaces it declares.
package app

import (
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
)

// Application is every command and query handler, and the fan-out that pushes an update to its pass's channels.
type Application struct {
	Commands Commands
	Queries  Queries
	Push     push.FanOut
}

type Commands struct {
	RegisterPass command.RegisterPassHandler
	ImportPasses command.ImportPassesHandler
	SaveTenant   command.SaveTenantHandler

	ScheduleFromJourney        command.ScheduleFromJourneyHandler
	ScheduleJourneyPassUpdates command.ScheduleJourneyPassUpdatesHandler
	RecordActivityLifecycle    command.RecordActivityLifecycleHandler
	RecordPushOutcomes         command.RecordPushOutcomesHandler
	CheckPass                  command.CheckPassHandler

	AddAppleCertificate command.AddAppleCertificateHandler
	PutAppleTemplate    command.PutAppleTemplateHandler
	MakeInstallLink     command.MakeInstallLinkHandler

	PutGoogleSettings command.PutGoogleSettingsHandler
	PutGoogleClass    command.PutGoogleClassHandler

	RegisterAppleDevice   command.RegisterAppleDeviceHandler
	UnregisterAppleDevice command.UnregisterAppleDeviceHandler

	CreateAPIKey command.CreateAPIKeyHandler
	RevokeAPIKey command.RevokeAPIKeyHandler
}

type Queries struct {
	PassByID     query.PassByIDHandler
	FindPasses   query.FindPassesHandler
	ActiveTenant query.ActiveTenantHandler
	TenantByID   query.TenantByIDHandler
	ListTenants  query.ListTenantsHandler
	AuditLog     query.AuditLogHandler
	// Events is the event export and the feed: a tenant's recorded events after a position.
	Events query.EventsHandler

	AppleCertificates query.AppleCertificatesHandler
	ApplePass         query.ApplePassHandler
	CheckInstallLink  query.CheckInstallLinkHandler

	GoogleSettings query.GoogleSettingsHandler
	GoogleSaveLink query.GoogleSaveLinkHandler

	ApplePassHolder    query.ApplePassHolderHandler
	UpdatedApplePasses query.UpdatedApplePassesHandler

	ListAPIKeys        query.ListAPIKeysHandler
	AuthenticateAPIKey query.AuthenticateAPIKeyHandler
}
