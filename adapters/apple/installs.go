package apple

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/command"
)

// Installs implements command.AppleInstalls: the registrations read model says which passes a device holds, and
// the channel whether the tenant has a certificate.
type Installs struct {
	registrations *Registrations
	channel       *Channel
}

var _ command.AppleInstalls = Installs{}

// NewInstalls returns the Apple installs of registrations, for the tenants channel has certificates of.
func NewInstalls(registrations *Registrations, channel *Channel) (Installs, error) {
	if registrations == nil || channel == nil {
		return Installs{}, errors.New("new Apple installs: nil registrations or channel")
	}
	return Installs{registrations: registrations, channel: channel}, nil
}

// Registered implements command.AppleInstalls: one active registration is enough. It goes through the
// registrations' grouped lookup, so the split's concurrent calls share its queries.
func (i Installs) Registered(ctx context.Context, tenantID, passID string) (bool, error) {
	devices, err := i.registrations.Devices(ctx, tenantID, passID)
	if err != nil {
		return false, err
	}
	return len(devices) > 0, nil
}

// SetUp implements command.AppleInstalls from the channel's cached presence of certificates.
func (i Installs) SetUp(ctx context.Context, tenantID string) (bool, error) {
	ok, err := i.channel.configured.Has(ctx, tenantID)
	if err != nil {
		return false, fmt.Errorf("apple certificate of tenant %s: %w", tenantID, err)
	}
	return ok, nil
}
