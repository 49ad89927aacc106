package apple

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/command"
)

// Installs implements command.AppleSetUp: whether the channel has a certificate of the tenant. Which passes
// devices hold is read with the split's match (adapters/passes, MatchAppleInstalled).
type Installs struct {
	channel *Channel
}

var _ command.AppleSetUp = Installs{}

// NewInstalls returns the Apple set-up of the tenants channel has certificates of.
func NewInstalls(channel *Channel) (Installs, error) {
	if channel == nil {
		return Installs{}, errors.New("new Apple installs: nil channel")
	}
	return Installs{channel: channel}, nil
}

// SetUp implements command.AppleSetUp from the channel's cached presence of certificates.
func (i Installs) SetUp(ctx context.Context, tenantID string) (bool, error) {
	ok, err := i.channel.configured.Has(ctx, tenantID)
	if err != nil {
		return false, fmt.Errorf("apple certificate of tenant %s: %w", tenantID, err)
	}
	return ok, nil
}
