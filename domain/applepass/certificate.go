package applepass

import (
	"errors"
	"time"
)

// ErrInvalidCertificate is wrapped by every refusal of a tenant's Pass Type ID certificate: a key that does not
// match, an expired certificate, one that is not a Pass Type ID certificate, a wrong .p12 password, a WWDR that
// did not issue it, or a Pass Type ID other than the one asked for. Its messages never quote a key or a password.
var ErrInvalidCertificate = errors.New("invalid Pass Type ID certificate")

// CertificateInfo is what may be shown of a Pass Type ID certificate: never its key.
type CertificateInfo struct {
	PassTypeID string    `json:"passTypeIdentifier"` // the subject's UID
	TeamID     string    `json:"teamIdentifier"`     // the subject's OU
	Subject    string    `json:"subject"`
	NotAfter   time.Time `json:"expiresAt"`
	// Warning says, when the certificate expires within 30 days or has expired, to renew it.
	Warning string `json:"warning,omitempty"`
}
