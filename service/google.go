package service

import (
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/google"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

// googleAdapters are what Google Wallet objects and save links are built from: the tenants' settings (credentials
// of kind google), their classes, and the passes read model.
type googleAdapters struct {
	settings  *google.SettingsStore
	classes   *google.Classes
	objects   *google.Objects
	saveLinks *google.SaveLinks
}

func (g *googleAdapters) build(db *sqldb.DB, box *secretbox.Box, passes query.PassGetter, publicURL string) error {
	store, err := credentials.NewStore(db, box)
	if err != nil {
		return err
	}
	if g.settings, err = google.NewSettingsStore(store); err != nil {
		return err
	}
	if g.classes, err = google.NewClasses(db); err != nil {
		return err
	}
	if g.objects, err = google.NewObjects(g.settings, g.classes, passes); err != nil {
		return err
	}
	g.saveLinks, err = google.NewSaveLinks(g.objects, publicURL)
	return err
}
