package pass

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// AppleChannel is the channel whose removed targets are registered devices: RecordPush unregisters them.
const AppleChannel = "apple"

// Why a device stopped holding a pass, as DeviceUnregistered records it.
const (
	// UnregisteredByDevice: the device asked (the pass was deleted from Wallet, or updates were turned off).
	UnregisteredByDevice = "device"
	// UnregisteredAPNs410: APNs answered 410, the push token is no longer valid.
	UnregisteredAPNs410 = "apns_410"
	// UnregisteredBadToken: APNs answered 400 BadDeviceToken or Unregistered.
	UnregisteredBadToken = "apns_bad_token"
)

// Device is a device that holds the pass and asked for its updates: Wallet's deviceLibraryIdentifier, the Pass
// Type ID the pass was registered under, and the token APNs pushes to.
type Device struct {
	ID         string `json:"id"`
	PassTypeID string `json:"passTypeId"`
	PushToken  string `json:"pushToken"`
}

var (
	deviceIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	passTypeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$`)
	pushTokenPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,512}$`)
)

// ValidateDeviceID checks a deviceLibraryIdentifier: 1–128 letters, digits or . _ : -.
func ValidateDeviceID(id string) error {
	if !deviceIDPattern.MatchString(id) {
		return fmt.Errorf("%w: deviceLibraryIdentifier must be 1-128 letters, digits or . _ : -", ErrInvalid)
	}
	return nil
}

// ValidatePassTypeID checks a passTypeIdentifier such as pass.com.example.loyalty.
func ValidatePassTypeID(id string) error {
	if !passTypeIDPattern.MatchString(id) {
		return fmt.Errorf("%w: passTypeIdentifier must be 1-255 letters, digits, dots or dashes", ErrInvalid)
	}
	return nil
}

// Validate checks a device's registration. The push token goes into an APNs URL path, so it is letters, digits
// and . _ - only (Apple's are hex).
func (d Device) Validate() error {
	if err := ValidateDeviceID(d.ID); err != nil {
		return err
	}
	if err := ValidatePassTypeID(d.PassTypeID); err != nil {
		return err
	}
	if !pushTokenPattern.MatchString(d.PushToken) {
		return fmt.Errorf("%w: pushToken must be 1-512 letters, digits or . _ -", ErrInvalid)
	}
	return nil
}

// ValidUnregisterReason reports whether reason is one DeviceUnregistered records.
func ValidUnregisterReason(reason string) bool {
	switch reason {
	case UnregisteredByDevice, UnregisteredAPNs410, UnregisteredBadToken:
		return true
	}
	return false
}

// RegisterDevice records DeviceRegistered for a device that does not hold the pass yet (created), or whose push
// token or Pass Type ID changed (recorded again, not created). The same registration twice records nothing.
func (p *Pass) RegisterDevice(d Device) (created bool, err error) {
	if err := d.Validate(); err != nil {
		return false, err
	}
	if !p.registered {
		return false, fmt.Errorf("register device on pass %s: %w", p.id, ErrNotFound)
	}
	old, known := p.devices[d.ID]
	if known && old == d {
		return false, nil
	}
	p.record(DeviceRegistered{DeviceLibraryID: d.ID, PassTypeID: d.PassTypeID, PushToken: d.PushToken})
	return !known, nil
}

// UnregisterDevice records DeviceUnregistered for a device that holds the pass. A device that does not is not
// an error: it reports false, so a repeated DELETE is harmless.
func (p *Pass) UnregisterDevice(deviceID, reason string) (removed bool, err error) {
	if err := ValidateDeviceID(deviceID); err != nil {
		return false, err
	}
	if !ValidUnregisterReason(reason) {
		return false, fmt.Errorf("%w: unregister reason %q is not device, apns_410 or apns_bad_token", ErrInvalid, reason)
	}
	if _, ok := p.devices[deviceID]; !ok {
		return false, nil
	}
	p.record(DeviceUnregistered{DeviceLibraryID: deviceID, Reason: reason})
	return true, nil
}

// Devices returns the devices that hold the pass, by id.
func (p *Pass) Devices() []Device {
	out := make([]Device, 0, len(p.devices))
	for _, id := range slices.Sorted(maps.Keys(p.devices)) {
		out = append(out, p.devices[id])
	}
	return out
}

// unregisterRemoved unregisters the devices the Apple channel found gone, with the reason it gives for each
// (apns_410 when it gives none).
func (p *Pass) unregisterRemoved(channels []ChannelResult) {
	for _, r := range channels {
		if r.Channel != AppleChannel {
			continue
		}
		for _, id := range r.Removed {
			reason := r.RemovedReasons[id]
			if !ValidUnregisterReason(reason) || reason == UnregisteredByDevice {
				reason = UnregisteredAPNs410
			}
			if _, ok := p.devices[id]; ok {
				p.record(DeviceUnregistered{DeviceLibraryID: id, Reason: reason})
			}
		}
	}
}
