package service

import (
	"context"
	"errors"

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
	publicURL    string
}

func (a *appleAdapters) build(db *sqldb.DB, config Config) error {
	store, err := credentials.NewStore(db)
	if err != nil {
		return err
	}
	if a.certificates, err = apple.NewCertificateStore(store); err != nil {
		return err
	}
	if a.templates, err = apple.NewTemplates(db); err != nil {
		return err
	}
	if a.linkKeys, err = linkkeys.New(db, store); err != nil {
		return err
	}
	a.tokens, a.publicURL = config.AppleAuthenticationTokens, config.PublicURL
	if a.tokens == nil {
		a.tokens = noAuthenticationTokens{}
	}
	return nil
}

// errNoAuthenticationTokens: the PassKit web service, which makes each pass's authenticationToken, is not wired.
var errNoAuthenticationTokens = errors.New("Apple passes are not available: no authentication tokens (the PassKit web service is not wired)")

type noAuthenticationTokens struct{}

func (noAuthenticationTokens) Token(context.Context, string, string) (string, error) {
	return "", errNoAuthenticationTokens
}
