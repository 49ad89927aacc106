package google

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
	"google.golang.org/api/option"
	"google.golang.org/api/walletobjects/v1"
)

// Scope is the OAuth scope of the Wallet API's issuer calls.
const Scope = "https://www.googleapis.com/auth/wallet_object.issuer"

// walletClient calls the Wallet API for one tenant: Google's client on an OAuth token source made from the
// tenant's service account, and the limiter that holds its calls to the tenant's rate. One is built per change of
// the tenant's settings (credentials.Clients), so the token is fetched once and reused until it nears expiry.
type walletClient struct {
	service *walletobjects.Service
	tokens  oauth2.TokenSource
	limiter *limiter
	// account is the settings the client was made from: the channel builds its objects with them.
	account *Account
}

// clientFactory builds walletClients from tenants' Google settings.
type clientFactory struct {
	apiURL    string
	timeout   time.Duration
	transport http.RoundTripper
	callers   *callers
}

func (f clientFactory) build(c credentials.Credential) (*walletClient, error) {
	settings, account, err := DecodeSettings(c.Data)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(account.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: the service account's key cannot be used", ErrInvalidSettings)
	}
	jwtConfig := &jwt.Config{
		Email:        account.ClientEmail,
		PrivateKey:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PrivateKeyID: account.PrivateKeyID,
		Scopes:       []string{Scope},
		TokenURL:     account.TokenURI,
	}
	// The token source outlives any one push: its context only carries the HTTP client of the token endpoint.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient,
		&http.Client{Transport: f.transport, Timeout: f.timeout})
	// jwt.Config.TokenSource is an oauth2.ReuseTokenSource: a token is fetched once, and again only when it nears
	// its expiry.
	tokens := jwtConfig.TokenSource(tokenCtx)
	httpClient := &http.Client{Transport: &oauth2.Transport{Source: tokens, Base: f.transport}, Timeout: f.timeout}
	service, err := walletobjects.NewService(context.Background(), option.WithHTTPClient(httpClient),
		option.WithEndpoint(f.apiURL))
	if err != nil {
		return nil, fmt.Errorf("new wallet objects service: %w", err)
	}
	return &walletClient{service: service, tokens: tokens, limiter: newLimiter(settings.Rate, f.callers),
		account: &Account{Settings: settings, ServiceAccount: account}}, nil
}
