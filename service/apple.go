package service

import (
	"github.com/passpush/passpush/adapters/apple"
	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/linkkeys"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

// appleAdapters are what Apple passes are built from: the tenants' Pass Type ID certificates, their templates,
// their install-link keys, and the passes' authentication tokens.
type appleAdapters struct {
	certificates *apple.CertificateStore
	templates    *apple.Templates
	linkKeys     *linkkeys.Keys
	tokens       query.AuthenticationTokens
	sources      *apple.PassSources
	publicURL    string

	// The PassKit web service's: the tokens it checks, and the devices registered for the passes' updates.
	tokenChecker           query.AppleTokenChecker
	registrations          *apple.Registrations
	registrationProjection *apple.RegistrationProjection
}

func (a *appleAdapters) build(db *sqldb.DB, config Config) error {
	store, err := credentials.NewStore(db, config.Secrets)
	if err != nil {
		return err
	}
	if a.certificates, err = apple.NewCertificateStore(store); err != nil {
		return err
	}
	if a.templates, err = apple.NewTemplates(db); err != nil {
		return err
	}
	if a.linkKeys, err = linkkeys.New(store); err != nil {
		return err
	}
	tokens, err := apple.NewTokens(db)
	if err != nil {
		return err
	}
	a.tokens, a.tokenChecker, a.publicURL = config.AppleAuthenticationTokens, tokens, config.PublicURL
	if a.tokens == nil {
		a.tokens = tokens
	}
	if a.sources, err = apple.NewPassSources(db); err != nil {
		return err
	}
	if a.registrations, err = apple.NewRegistrations(db); err != nil {
		return err
	}
	a.registrationProjection, err = apple.NewRegistrationProjection(db)
	return err
}
