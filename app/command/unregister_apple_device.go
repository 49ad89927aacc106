package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// UnregisterAppleDevice is Wallet telling that a device no longer wants a pass's updates (the PassKit web
// service's DELETE registrations), with the pass's authenticationToken.
type UnregisterAppleDevice struct {
	TenantID        string
	PassID          string
	PassTypeID      string
	DeviceLibraryID string
	Token           string
}

// UnregisterAppleDeviceHandler handles UnregisterAppleDevice.
type UnregisterAppleDeviceHandler struct {
	holders ApplePassHolders
	passes  pass.Repository
}

// NewUnregisterAppleDeviceHandler returns a handler that checks holders and stores passes.
func NewUnregisterAppleDeviceHandler(holders ApplePassHolders, passes pass.Repository) UnregisterAppleDeviceHandler {
	if holders == nil || passes == nil {
		panic("nil pass holders or pass repository")
	}
	return UnregisterAppleDeviceHandler{holders: holders, passes: passes}
}

// Handle records DeviceUnregistered with reason device; a device that does not hold the pass is no error.
func (h UnregisterAppleDeviceHandler) Handle(ctx context.Context, cmd UnregisterAppleDevice) error {
	if _, err := h.holders.Handle(ctx, query.ApplePassHolder{TenantID: cmd.TenantID, PassID: cmd.PassID,
		PassTypeID: cmd.PassTypeID, Token: cmd.Token}); err != nil {
		return err
	}
	err := h.passes.Update(ctx, cmd.TenantID, cmd.PassID, func(p *pass.Pass) error {
		_, err := p.UnregisterDevice(cmd.DeviceLibraryID, pass.UnregisteredByDevice)
		return err
	})
	if errors.Is(err, pass.ErrNotFound) {
		return query.ErrNotPassHolder
	}
	if err != nil {
		return fmt.Errorf("unregister device from pass %s: %w", cmd.PassID, err)
	}
	return nil
}
