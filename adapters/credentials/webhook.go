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

// Webhook is a tenant's webhook credential: where its pass updates are POSTed, and the secret they are signed
// with. It is the one place its JSON is read and written.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// EncodeWebhook returns the stored form of w.
func EncodeWebhook(w Webhook) ([]byte, error) {
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode webhook credential: %w", err)
	}
	return data, nil
}

// DecodeWebhook reads the stored form of a webhook credential.
func DecodeWebhook(data []byte) (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(data, &w); err != nil {
		return Webhook{}, fmt.Errorf("decode webhook credential: %w", err)
	}
	return w, nil
}
