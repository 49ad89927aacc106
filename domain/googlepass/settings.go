package googlepass

import "errors"

// ErrInvalidSettings is wrapped by every refusal of a tenant's Google settings. Its messages never carry the key.
var ErrInvalidSettings = errors.New("invalid google settings")

// SettingsInfo is what may be shown of a tenant's Google settings: never the service account's key.
type SettingsInfo struct {
	IssuerID            string  `json:"issuerId"`
	ServiceAccountEmail string  `json:"serviceAccountEmail"`
	Rate                float64 `json:"rate"`
}
