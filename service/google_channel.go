package service

import (
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
)

// newGoogleChannel builds the Google channel: the objects it patches come from objects, each tenant's service
// account from its Google settings, and the Wallet API is at apiURL (PASSPUSH_GOOGLE_API_URL; empty means
// Google's).
func newGoogleChannel(db *sqldb.DB, box *secretbox.Box, objects google.ObjectBuilder, apiURL string) (*google.Channel, error) {
	store, err := credentials.NewStore(db, box)
	if err != nil {
		return nil, err
	}
	return google.NewChannel(db, store, objects, google.ChannelConfig{APIURL: apiURL})
}
