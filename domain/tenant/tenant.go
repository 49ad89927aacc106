// Package tenant holds a tenant: one SFMC business unit that uses passpush, with the secrets Journey Builder
// signs with and the webhook its updates go to.
package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

var (
	// ErrInvalid is wrapped by every validation error of this package.
	ErrInvalid = errors.New("invalid tenant")
	// ErrNotFound means no tenant has the id, or it is disabled.
	ErrNotFound = errors.New("unknown tenant")
	// ErrSigningSecretInUse means another tenant already has one of the SFMC signing secrets: a JWT signed with
	// it would prove nothing about which tenant it came from. The store finds it (it alone sees every tenant).
	ErrSigningSecretInUse = errors.New("an SFMC signing secret is already used by another tenant; each tenant's installed package has its own")
)

const (
	// MinSigningSecretLength is the shortest SFMC signing secret accepted, in bytes: shorter ones can be guessed
	// from a signed JWT offline.
	MinSigningSecretLength = 16
	// MaxSigningSecrets is how many SFMC signing secrets a tenant may have: two during a rotation and one spare.
	// A JWT is verified against each, so more would multiply the work an unsigned flood costs.
	MaxSigningSecrets = 3
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

// Activity is how the tenant's Journey Builder custom activity is declared in its config.json.
type Activity struct {
	// Key must equal the component key of the installed package's Journey Builder Activity.
	Key string
	// SplitKey must equal the component key of the installed package's "Wallet pass?" split activity (the
	// passcheck config.json's key). The split shares the timeout, retry and concurrency settings below.
	SplitKey string
	// TimeoutMS, RetryCount and RetryDelayMS tell Journey Builder how to call execute.
	TimeoutMS          int
	RetryCount         int
	RetryDelayMS       int
	ConcurrentRequests int
}

// DefaultActivity is what a new tenant's activity settings start as.
var DefaultActivity = Activity{TimeoutMS: 20000, RetryCount: 3, RetryDelayMS: 1000, ConcurrentRequests: 5}

// Validate checks the settings against the ranges Journey Builder accepts.
func (a Activity) Validate() error {
	var err error
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			err = errors.Join(err, fmt.Errorf("%w: %s must be from %d to %d, got %d", ErrInvalid, name, lo, hi, v))
		}
	}
	check("execute timeout (ms)", a.TimeoutMS, 1000, 100000)
	check("retry count", a.RetryCount, 0, 5)
	check("retry delay (ms)", a.RetryDelayMS, 0, 10000)
	check("concurrent requests", a.ConcurrentRequests, 1, 50)
	if len(a.Key) > 255 {
		err = errors.Join(err, fmt.Errorf("%w: activity key is longer than 255 characters", ErrInvalid))
	}
	if len(a.SplitKey) > 255 {
		err = errors.Join(err, fmt.Errorf("%w: split activity key is longer than 255 characters", ErrInvalid))
	}
	return err
}

// Tenant is one customer of passpush.
type Tenant struct {
	ID   string
	Name string
	// SFMCSigningSecrets are the installed package's JWT signing secrets. More than one is accepted during a
	// rotation.
	SFMCSigningSecrets []string
	Webhook            Webhook
	Activity           Activity
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
	for _, text := range append(append([]string{t.Name, t.Webhook.URL, t.Activity.Key, t.Activity.SplitKey}, t.SFMCSigningSecrets...), t.Webhook.Secrets...) {
		if strings.ContainsRune(text, 0) {
			return fmt.Errorf("%w: text must not contain a NUL character", ErrInvalid)
		}
	}
	if len(t.SFMCSigningSecrets) == 0 {
		return fmt.Errorf("%w: at least one SFMC signing secret is required", ErrInvalid)
	}
	if len(t.SFMCSigningSecrets) > MaxSigningSecrets {
		return fmt.Errorf("%w: at most %d SFMC signing secrets, got %d; remove an old one when you add a new one",
			ErrInvalid, MaxSigningSecrets, len(t.SFMCSigningSecrets))
	}
	seen := make(map[string]bool, len(t.SFMCSigningSecrets))
	for i, s := range t.SFMCSigningSecrets {
		// The message names the secret's position, never the secret.
		if len(s) < MinSigningSecretLength {
			return fmt.Errorf("%w: SFMC signing secret %d is %d bytes; it must be at least %d", ErrInvalid, i+1, len(s), MinSigningSecretLength)
		}
		if seen[s] {
			return fmt.Errorf("%w: SFMC signing secret %d is given twice", ErrInvalid, i+1)
		}
		seen[s] = true
	}
	if err := t.Activity.Validate(); err != nil {
		return err
	}
	return t.Webhook.Validate()
}

// Changes is a partial update: nil fields keep their value.
type Changes struct {
	Name               *string
	SFMCSigningSecrets []string // nil keeps, non-nil replaces the whole list
	WebhookURL         *string
	// WebhookSecret adds a secret the webhook requests are signed with, and RetireWebhookSecret removes one: a
	// rotation adds the new secret, moves the receiver to it, then retires the old.
	WebhookSecret       *string
	RetireWebhookSecret *string
	Disabled            *bool

	ActivityKey                *string
	ActivitySplitKey           *string
	ActivityTimeoutMS          *int
	ActivityRetryCount         *int
	ActivityRetryDelayMS       *int
	ActivityConcurrentRequests *int
}

// Empty reports whether the changes change nothing.
func (c Changes) Empty() bool {
	return c.Name == nil && c.SFMCSigningSecrets == nil && c.WebhookURL == nil && c.WebhookSecret == nil && c.RetireWebhookSecret == nil &&
		c.Disabled == nil &&
		c.ActivityKey == nil && c.ActivitySplitKey == nil && c.ActivityTimeoutMS == nil && c.ActivityRetryCount == nil && c.ActivityRetryDelayMS == nil &&
		c.ActivityConcurrentRequests == nil
}

// Apply returns t with the changes made.
func (c Changes) Apply(t Tenant) Tenant {
	if c.Name != nil {
		t.Name = *c.Name
	}
	if c.SFMCSigningSecrets != nil {
		t.SFMCSigningSecrets = append([]string(nil), c.SFMCSigningSecrets...)
	}
	t.Webhook = c.applyWebhook(t.Webhook)
	if c.Disabled != nil {
		t.Disabled = *c.Disabled
	}
	setIf(&t.Activity.Key, c.ActivityKey)
	setIf(&t.Activity.SplitKey, c.ActivitySplitKey)
	setIf(&t.Activity.TimeoutMS, c.ActivityTimeoutMS)
	setIf(&t.Activity.RetryCount, c.ActivityRetryCount)
	setIf(&t.Activity.RetryDelayMS, c.ActivityRetryDelayMS)
	setIf(&t.Activity.ConcurrentRequests, c.ActivityConcurrentRequests)
	return t
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
