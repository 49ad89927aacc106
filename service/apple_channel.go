package service

import (
	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/sqldb"
)

// newAppleChannel builds the Apple channel: APNs pushes to the devices the registrations read model says hold a
// pass, with the tenant's Pass Type ID certificates, one long-lived client per certificate. It runs after the
// Apple adapters are built.
func (a *adapters) newAppleChannel(db *sqldb.DB, config apple.ChannelConfig) error {
	store, err := credentials.NewStore(db, a.secrets)
	if err != nil {
		return err
	}
	a.appleChannel, err = apple.NewChannel(config, store, a.apple.registrations)
	return err
}
