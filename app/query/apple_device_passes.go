package query

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/passpush/passpush/domain/pass"
)

// UpdateTag orders the changes of passes: the global position of the event that last changed a pass's data. A
// device keeps the last one it was given (lastUpdated) and asks for the passes changed after it.
type UpdateTag struct {
	TransactionID int64
	Sequence      int64
}

// String is the tag as the web service hands it out: "transaction.sequence".
func (t UpdateTag) String() string {
	return strconv.FormatInt(t.TransactionID, 10) + "." + strconv.FormatInt(t.Sequence, 10)
}

// After reports whether t comes after o.
func (t UpdateTag) After(o UpdateTag) bool {
	if t.TransactionID != o.TransactionID {
		return t.TransactionID > o.TransactionID
	}
	return t.Sequence > o.Sequence
}

// ParseUpdateTag reads a tag that String wrote. ok is false for anything else (a tag of another server, or
// none), which the web service reads as "since the beginning".
func ParseUpdateTag(s string) (t UpdateTag, ok bool) {
	tx, seq, found := strings.Cut(s, ".")
	if !found || len(s) > 41 {
		return UpdateTag{}, false
	}
	var err1, err2 error
	t.TransactionID, err1 = strconv.ParseInt(tx, 10, 64)
	t.Sequence, err2 = strconv.ParseInt(seq, 10, 64)
	if err1 != nil || err2 != nil || t.TransactionID < 0 || t.Sequence < 0 || t.String() != s {
		return UpdateTag{}, false
	}
	return t, true
}

// UpdatedApplePasses asks which passes of a device, registered under a Pass Type ID, changed after a tag.
type UpdatedApplePasses struct {
	TenantID        string
	DeviceLibraryID string
	PassTypeID      string
	// Since is the device's passesUpdatedSince; without it (HasSince false), every pass of the device.
	Since    UpdateTag
	HasSince bool
}

// UpdatedApplePassList is the serial numbers (pass ids) of the passes that changed, and the tag of the latest
// change. No serials means nothing changed.
type UpdatedApplePassList struct {
	SerialNumbers []string
	LastUpdated   UpdateTag
}

// AppleRegistrationReader reads the registrations read model (adapters/apple).
type AppleRegistrationReader interface {
	// UpdatedSince returns the passes the device is registered for under passTypeID whose tag is after since
	// (every one with all), sorted, and the latest of their tags.
	UpdatedSince(ctx context.Context, tenantID, deviceID, passTypeID string, since UpdateTag, all bool) ([]string, UpdateTag, error)
}

// UpdatedApplePassesHandler handles UpdatedApplePasses.
type UpdatedApplePassesHandler struct{ registrations AppleRegistrationReader }

// NewUpdatedApplePassesHandler returns a handler that reads registrations.
func NewUpdatedApplePassesHandler(registrations AppleRegistrationReader) UpdatedApplePassesHandler {
	if registrations == nil {
		panic("nil Apple registration reader")
	}
	return UpdatedApplePassesHandler{registrations: registrations}
}

// Handle lists the device's changed passes. An invalid device or Pass Type ID is pass.ErrInvalid.
func (h UpdatedApplePassesHandler) Handle(ctx context.Context, q UpdatedApplePasses) (UpdatedApplePassList, error) {
	if err := pass.ValidateDeviceID(q.DeviceLibraryID); err != nil {
		return UpdatedApplePassList{}, err
	}
	if err := pass.ValidatePassTypeID(q.PassTypeID); err != nil {
		return UpdatedApplePassList{}, err
	}
	serials, last, err := h.registrations.UpdatedSince(ctx, q.TenantID, q.DeviceLibraryID, q.PassTypeID, q.Since, !q.HasSince)
	if err != nil {
		return UpdatedApplePassList{}, fmt.Errorf("passes of device %s: %w", q.DeviceLibraryID, err)
	}
	return UpdatedApplePassList{SerialNumbers: serials, LastUpdated: last}, nil
}
