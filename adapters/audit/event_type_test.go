package audit_test

import (
	"testing"

	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
)

// Every event passpush records has a one-byte code in the audit log (auditrow.StoredType): a type without one
// still reads back, but its rows keep its name, 15 to 20 bytes each, for good.
func TestStoredType_codesEveryDomainEvent(t *testing.T) {
	names := []string{
		pass.Registered{}.Name(), pass.DataChanged{}.Name(), pass.UpdateScheduled{}.Name(), pass.PushUpdateEmitted{}.Name(),
		pass.PushUpdateFailed{}.Name(), pass.DeliveryRedriven{}.Name(), pass.DeviceRegistered{}.Name(), pass.DeviceUnregistered{}.Name(),
		tenant.Created{}.Name(), tenant.Changed{}.Name(), tenant.APIKeyCreated{}.Name(), tenant.APIKeyRevoked{}.Name(),
		activity.PassCheckDecided{}.Name(),
	}
	for _, s := range activity.Stages {
		names = append(names, activity.Lifecycle{Stage: s}.Name())
	}
	for _, name := range names {
		if stored := auditrow.StoredType(name); len(stored) != 1 || auditrow.TypeOf(stored) != name {
			t.Errorf("%s is stored as %q, want a one-byte code that reads back", name, stored)
		}
	}
}
