// Package pass holds the wallet pass aggregate: what a pass is, which changes it accepts and the events they
// record. It does no I/O.
package pass

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
)

// ErrInvalid is wrapped by every validation error of this package, so ports can answer 400.
var ErrInvalid = errors.New("invalid pass")

// ErrNotFound is returned by read models and repositories for a pass the tenant does not have.
var ErrNotFound = errors.New("pass not found")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// ValidateID checks a pass id: 1–128 characters, letters, digits and . _ : @ -, so it is safe in a URL path.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: passId %q must be 1-128 letters, digits or . _ : @ -, starting with a letter or digit", ErrInvalid, id)
	}
	return nil
}

// Details are the attributes a pass is registered with.
type Details struct {
	PassType string            `json:"passType"`
	Email    string            `json:"email"`
	CustomID string            `json:"customId"`
	Data     map[string]string `json:"data"`
}

// Validate checks the details of a registration.
func (d Details) Validate() error {
	if strings.TrimSpace(d.PassType) == "" {
		return fmt.Errorf("%w: passType is required", ErrInvalid)
	}
	if len(d.PassType) > 255 || len(d.Email) > 320 || len(d.CustomID) > 255 {
		return fmt.Errorf("%w: passType, email or customId is too long", ErrInvalid)
	}
	if d.Email != "" && !strings.Contains(d.Email, "@") {
		return fmt.Errorf("%w: email %q is not an email address", ErrInvalid, d.Email)
	}
	for k := range d.Data {
		if k == "" {
			return fmt.Errorf("%w: data has an empty field name", ErrInvalid)
		}
	}
	return nil
}

func (d Details) equal(o Details) bool {
	return d.PassType == o.PassType && d.Email == o.Email && d.CustomID == o.CustomID && maps.Equal(d.Data, o.Data)
}

// Pass is one wallet pass of one tenant, rebuilt from its event stream.
type Pass struct {
	tenantID   string
	id         string
	registered bool
	details    Details
	// version counts the events in the stream, including the ones recorded and not yet stored.
	version int
	changes []Event
}

// New returns a pass that has no events yet; Apply rebuilds it from its stream.
func New(tenantID, id string) (*Pass, error) {
	if tenantID == "" {
		return nil, fmt.Errorf("%w: tenant is required", ErrInvalid)
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return &Pass{tenantID: tenantID, id: id}, nil
}

func (p *Pass) TenantID() string   { return p.tenantID }
func (p *Pass) ID() string         { return p.id }
func (p *Pass) Registered() bool   { return p.registered }
func (p *Pass) Details() Details   { return p.details }
func (p *Pass) Version() int       { return p.version }
func (p *Pass) Changes() []Event   { return p.changes }
func (p *Pass) StoredVersion() int { return p.version - len(p.changes) }

// Register records PassRegistered for a new pass, PassDataChanged when the details differ from the stored
// ones, and nothing when they are the same, so registering twice is harmless. It reports whether the pass is new.
func (p *Pass) Register(d Details) (created bool, err error) {
	if d.Data == nil {
		d.Data = map[string]string{}
	}
	if err := d.Validate(); err != nil {
		return false, err
	}
	switch {
	case !p.registered:
		p.record(Registered{Details: d})
		return true, nil
	case !p.details.equal(d):
		p.record(DataChanged{Details: d})
	}
	return false, nil
}

func (p *Pass) record(e Event) {
	p.apply(e)
	p.changes = append(p.changes, e)
}

// Skip counts a stored event of the stream that this version of the aggregate does not know, so the next event
// still takes the right version.
func (p *Pass) Skip() {
	p.version++
}

// Apply replays a stored event.
func (p *Pass) Apply(e Event) {
	p.apply(e)
}

func (p *Pass) apply(e Event) {
	p.version++
	switch e := e.(type) {
	case Registered:
		p.registered = true
		p.details = e.Details
	case DataChanged:
		p.details = e.Details
	}
}
