// Package google is passpush's Google Wallet side: a tenant's settings, its classes, the objects built from them,
// "Add to Google Wallet" links, and the channel that updates objects through the Wallet API.
package google

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"

	"github.com/passpush/passpush/domain/googlepass"
)

// Kind is the credential kind a tenant's Google settings are stored under, with the name DefaultName.
const (
	Kind        = "google"
	DefaultName = "default"
)

// DefaultRate is the requests a second a tenant's calls to the Wallet API are held to, below Google's quota.
const DefaultRate = 20

// ErrInvalidSettings is wrapped by every refusal of settings. Its messages never carry the key. It is the domain's
// error, so that the ports can tell a refusal from a failure.
var ErrInvalidSettings = googlepass.ErrInvalidSettings

var issuerIDPattern = regexp.MustCompile(`^[0-9]{1,32}$`)

// Settings are a tenant's Google Wallet settings: its issuer, the service account that calls the API for it, and
// the rate its calls are held to.
type Settings struct {
	IssuerID string `json:"issuerId"`
	// ServiceAccount is Google's key file, as it comes.
	ServiceAccount json.RawMessage `json:"serviceAccount"`
	Rate           float64         `json:"rate"`
}

// ServiceAccount is what passpush reads from a service account's key file.
type ServiceAccount struct {
	ClientEmail  string
	PrivateKeyID string
	TokenURI     string
	Key          *rsa.PrivateKey
}

// String keeps the key out of logs and error messages.
func (a ServiceAccount) String() string { return "service account " + a.ClientEmail }

// GoString keeps the key out of %#v.
func (a ServiceAccount) GoString() string { return a.String() }

// keyFile is the part of Google's key file passpush reads.
type keyFile struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount reads a service account's key file. It refuses a file whose private_key is not an RSA key,
// or that has no client_email or token_uri.
func ParseServiceAccount(raw []byte) (ServiceAccount, error) {
	var f keyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		// The decoder's message may quote the file: say only where it broke.
		return ServiceAccount{}, fmt.Errorf("%w: the service account is not a JSON key file", ErrInvalidSettings)
	}
	var missing []error
	if f.ClientEmail == "" {
		missing = append(missing, fmt.Errorf("%w: the service account has no client_email", ErrInvalidSettings))
	}
	if f.TokenURI == "" {
		missing = append(missing, fmt.Errorf("%w: the service account has no token_uri", ErrInvalidSettings))
	}
	if err := errors.Join(missing...); err != nil {
		return ServiceAccount{}, err
	}
	key, err := parseRSAKey(f.PrivateKey)
	if err != nil {
		return ServiceAccount{}, err
	}
	return ServiceAccount{ClientEmail: f.ClientEmail, PrivateKeyID: f.PrivateKeyID, TokenURI: f.TokenURI, Key: key}, nil
}

func parseRSAKey(text string) (*rsa.PrivateKey, error) {
	refused := fmt.Errorf("%w: the service account's private_key is not an RSA private key in PEM", ErrInvalidSettings)
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, refused
	}
	if key, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if rsaKey, ok := key.(*rsa.PrivateKey); ok {
			return rsaKey, nil
		}
		return nil, refused
	}
	if key, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return key, nil
	}
	return nil, refused
}

// Validate checks settings before they are stored, and fills the default rate.
func (s *Settings) Validate() (ServiceAccount, error) {
	if !issuerIDPattern.MatchString(s.IssuerID) {
		return ServiceAccount{}, fmt.Errorf("%w: issuerId must be Google's numeric issuer id", ErrInvalidSettings)
	}
	if s.Rate == 0 {
		s.Rate = DefaultRate
	}
	if s.Rate < 0 || s.Rate > 1000 {
		return ServiceAccount{}, fmt.Errorf("%w: rate must be from 0 (the default, %d) to 1000 requests a second", ErrInvalidSettings, DefaultRate)
	}
	return ParseServiceAccount(s.ServiceAccount)
}

// EncodeSettings turns settings into a credential's data. It is the one place that writes them.
func EncodeSettings(s Settings) ([]byte, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode google settings: %w", err)
	}
	return data, nil
}

// DecodeSettings reads settings from a credential's data, with their service account. It is the one place that
// reads them.
func DecodeSettings(data []byte) (Settings, ServiceAccount, error) {
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return Settings{}, ServiceAccount{}, fmt.Errorf("decode google settings: %w", err)
	}
	account, err := s.Validate()
	if err != nil {
		return Settings{}, ServiceAccount{}, err
	}
	return s, account, nil
}
