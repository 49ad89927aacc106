// Package tenant holds a tenant: one SFMC business unit that uses passpush, with the secrets Journey Builder
// signs with and the webhook its updates go to.
package tenant

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

var (
	// ErrInvalid is wrapped by every validation error of this package.
	ErrInvalid = errors.New("invalid tenant")
	// ErrNotFound means no tenant has the id, or it is disabled.
	ErrNotFound = errors.New("unknown tenant")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// reservedIDs are path segments of routes beside /api/{tenantId}/….
var reservedIDs = map[string]bool{"admin": true}

// ValidateID checks a tenant id: 1–64 letters, digits, _ or -, and not a reserved word.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: tenant id %q must be 1-64 letters, digits, _ or -, starting with a letter or digit", ErrInvalid, id)
	}
	if reservedIDs[id] {
		return fmt.Errorf("%w: tenant id %q is reserved", ErrInvalid, id)
	}
	return nil
}

// Webhook is where the tenant's pass updates are POSTed, signed with Secret.
type Webhook struct {
	URL    string
	Secret string
}

// Tenant is one customer of passpush.
type Tenant struct {
	ID   string
	Name string
	// SFMCSigningSecrets are the installed package's JWT signing secrets. More than one is accepted during a
	// rotation.
	SFMCSigningSecrets []string
	Webhook            Webhook
	Disabled           bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Validate checks a tenant before it is stored.
func (t Tenant) Validate() error {
	if err := ValidateID(t.ID); err != nil {
		return err
	}
	if len(t.Name) > 255 {
		return fmt.Errorf("%w: name is longer than 255 characters", ErrInvalid)
	}
	if len(t.SFMCSigningSecrets) == 0 {
		return fmt.Errorf("%w: at least one SFMC signing secret is required", ErrInvalid)
	}
	for _, s := range t.SFMCSigningSecrets {
		if s == "" {
			return fmt.Errorf("%w: an SFMC signing secret is empty", ErrInvalid)
		}
	}
	if t.Webhook.URL != "" {
		u, err := url.Parse(t.Webhook.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: webhook url %q must be an absolute http or https URL", ErrInvalid, t.Webhook.URL)
		}
		if t.Webhook.Secret == "" {
			return fmt.Errorf("%w: a webhook url needs a webhook secret to sign with", ErrInvalid)
		}
	}
	return nil
}

// Changes is a partial update: nil fields keep their value.
type Changes struct {
	Name               *string
	SFMCSigningSecrets []string // nil keeps, non-nil replaces the whole list
	WebhookURL         *string
	WebhookSecret      *string
	Disabled           *bool
}

// Apply returns t with the changes made.
func (c Changes) Apply(t Tenant) Tenant {
	if c.Name != nil {
		t.Name = *c.Name
	}
	if c.SFMCSigningSecrets != nil {
		t.SFMCSigningSecrets = append([]string(nil), c.SFMCSigningSecrets...)
	}
	if c.WebhookURL != nil {
		t.Webhook.URL = *c.WebhookURL
	}
	if c.WebhookSecret != nil {
		t.Webhook.Secret = *c.WebhookSecret
	}
	if c.Disabled != nil {
		t.Disabled = *c.Disabled
	}
	return t
}
