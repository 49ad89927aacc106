package tenant

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// MaxWebhookSecrets is how many webhook secrets a tenant keeps at once: the current one and the ones a rotation
// adds before the old is retired. Each one costs a signature on every delivery.
const MaxWebhookSecrets = 3

// Webhook is where the tenant's pass updates are POSTed, signed with each of Secrets: more than one while a
// rotation is under way, oldest first.
type Webhook struct {
	URL     string
	Secrets []string
}

// Validate checks the webhook's syntax. Which URLs a deployment may call (https only, which addresses) is its
// configuration, checked by the command that saves a tenant.
func (w Webhook) Validate() error {
	if len(w.Secrets) > MaxWebhookSecrets {
		return fmt.Errorf("%w: at most %d webhook secrets are kept; retire one before adding another", ErrInvalid, MaxWebhookSecrets)
	}
	for i, s := range w.Secrets {
		if s == "" {
			return fmt.Errorf("%w: a webhook secret is empty", ErrInvalid)
		}
		if slices.Contains(w.Secrets[:i], s) {
			return fmt.Errorf("%w: a webhook secret is listed twice", ErrInvalid)
		}
	}
	if w.URL == "" {
		return nil
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: webhook url %q must be an absolute https URL", ErrInvalid, MaskURL(w.URL))
	}
	if len(w.Secrets) == 0 {
		return fmt.Errorf("%w: a webhook url needs a webhook secret to sign with", ErrInvalid)
	}
	return nil
}

// applyWebhook adds and retires secrets as the changes say. Clearing the URL drops the secrets too: a tenant
// without a webhook has nothing to sign.
func (c Changes) applyWebhook(w Webhook) Webhook {
	w.Secrets = slices.Clone(w.Secrets)
	if c.WebhookURL != nil {
		w.URL = *c.WebhookURL
	}
	if c.WebhookSecret != nil && !slices.Contains(w.Secrets, *c.WebhookSecret) {
		w.Secrets = append(w.Secrets, *c.WebhookSecret)
	}
	if c.RetireWebhookSecret != nil {
		w.Secrets = slices.DeleteFunc(w.Secrets, func(s string) bool { return s == *c.RetireWebhookSecret })
	}
	if w.URL == "" {
		w.Secrets = nil
	}
	return w
}

// CheckWebhookSecrets reports a secret change that cannot apply to t: retiring a secret t does not have, or its
// last one while its webhook stays. Validate catches the rest once the changes are applied.
func (c Changes) CheckWebhookSecrets(t Tenant) error {
	if c.RetireWebhookSecret == nil {
		return nil
	}
	if !slices.Contains(t.Webhook.Secrets, *c.RetireWebhookSecret) {
		return fmt.Errorf("%w: the webhook secret to retire is not one of the tenant's", ErrInvalid)
	}
	after := c.applyWebhook(t.Webhook)
	if after.URL != "" && len(after.Secrets) == 0 {
		return fmt.Errorf("%w: the last webhook secret cannot be retired while a webhook url is set; add the new secret first", ErrInvalid)
	}
	return nil
}

// MaskURL hides what in a webhook URL can be a credential, for showing it: the password of the userinfo and
// every query value, or a user name given without a password (which is then a token). What is left says which
// endpoint it is.
func MaskURL(raw string) string {
	const mask = "xxxxx"
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), mask)
		} else {
			u.User = url.User(mask)
		}
	}
	if u.RawQuery != "" {
		// Split by hand rather than with url.ParseQuery, which would keep a parameter without "=" (often a
		// token on its own) as a key in clear, and would reorder the parameters.
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if key, _, hasValue := strings.Cut(p, "="); hasValue {
				params[i] = key + "=" + mask
			} else if p != "" {
				params[i] = mask
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
