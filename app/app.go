// Package app is what passpush can do, as commands that change state and queries that read it. Ports call it;
// adapters implement the interfaces it declares.
package app

import (
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
)

// Application is every command and query handler.
type Application struct {
	Commands Commands
	Queries  Queries
}

type Commands struct {
	RegisterPass command.RegisterPassHandler
	ImportPasses command.ImportPassesHandler
	SaveTenant   command.SaveTenantHandler

	ScheduleFromJourney        command.ScheduleFromJourneyHandler
	ScheduleJourneyPassUpdates command.ScheduleJourneyPassUpdatesHandler
	RecordActivityLifecycle    command.RecordActivityLifecycleHandler
	DeliverPushUpdate          command.DeliverPushUpdateHandler
	RecordPushOutcomes         command.RecordPushOutcomesHandler
}

type Queries struct {
	PassByID     query.PassByIDHandler
	FindPasses   query.FindPassesHandler
	ActiveTenant query.ActiveTenantHandler
	TenantByID   query.TenantByIDHandler
	ListTenants  query.ListTenantsHandler
	AuditLog     query.AuditLogHandler
}
