package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// RegisterAppleDevice is Wallet asking for a pass's updates on a device (the PassKit web service's POST
// registrations), with the pass's authenticationToken.
type RegisterAppleDevice struct {
	TenantID        string
	PassID          string
	PassTypeID      string
	DeviceLibraryID string
	PushToken       string
	Token           string
}

// ApplePassHolders checks that a caller holds a pass (query.ApplePassHolderHandler); a refusal is
// query.ErrNotPassHolder.
type ApplePassHolders interface {
	Handle(ctx context.Context, q query.ApplePassHolder) (query.HeldApplePass, error)
}

// RegisterAppleDeviceHandler handles RegisterAppleDevice.
type RegisterAppleDeviceHandler struct {
	holders ApplePassHolders
	passes  pass.Repository
}

// NewRegisterAppleDeviceHandler returns a handler that checks holders and stores passes.
func NewRegisterAppleDeviceHandler(holders ApplePassHolders, passes pass.Repository) RegisterAppleDeviceHandler {
	if holders == nil || passes == nil {
		panic("nil pass holders or pass repository")
	}
	return RegisterAppleDeviceHandler{holders: holders, passes: passes}
}

// Handle records the registration; created is false when the device already held the pass (a new push token
// replaces the old one).
func (h RegisterAppleDeviceHandler) Handle(ctx context.Context, cmd RegisterAppleDevice) (created bool, err error) {
	if _, err := h.holders.Handle(ctx, query.ApplePassHolder{TenantID: cmd.TenantID, PassID: cmd.PassID,
		PassTypeID: cmd.PassTypeID, Token: cmd.Token}); err != nil {
		return false, err
	}
	err = h.passes.Update(ctx, cmd.TenantID, cmd.PassID, func(p *pass.Pass) error {
		var err error
		created, err = p.RegisterDevice(pass.Device{ID: cmd.DeviceLibraryID, PassTypeID: cmd.PassTypeID, PushToken: cmd.PushToken})
		return err
	})
	if errors.Is(err, pass.ErrNotFound) {
		return false, query.ErrNotPassHolder
	}
	if err != nil {
		return false, fmt.Errorf("register device on pass %s: %w", cmd.PassID, err)
	}
	return created, nil
}
