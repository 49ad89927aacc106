package credentials

import (
	"encoding/json"
	"fmt"
)

// KindWebhook is the kind of a tenant's webhook credential, and DefaultName the name of its only one.
const (
	KindWebhook = "webhook"
	DefaultName = "default"
)

// Webhook is a tenant's webhook credential: where its pass updates are POSTed, and the secrets they are signed
// with (more than one during a rotation). It is the one place its JSON is read and written.
type Webhook struct {
	URL     string   `json:"url"`
	Secrets []string `json:"secrets"`
}

// storedWebhook is every form a webhook credential has been stored in: {url, secret} before rotations, then
// {url, secrets}. Reading both spares a data migration; writing uses only the second.
type storedWebhook struct {
	URL     string   `json:"url"`
	Secrets []string `json:"secrets"`
	Secret  string   `json:"secret,omitempty"`
}

// EncodeWebhook returns the stored form of w.
func EncodeWebhook(w Webhook) ([]byte, error) {
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode webhook credential: %w", err)
	}
	return data, nil
}

// DecodeWebhook reads the stored form of a webhook credential, old ({url, secret}) or new ({url, secrets}).
func DecodeWebhook(data []byte) (Webhook, error) {
	var s storedWebhook
	if err := json.Unmarshal(data, &s); err != nil {
		return Webhook{}, fmt.Errorf("decode webhook credential: %w", err)
	}
	w := Webhook{URL: s.URL, Secrets: s.Secrets}
	if len(w.Secrets) == 0 && s.Secret != "" {
		w.Secrets = []string{s.Secret}
	}
	return w, nil
}
