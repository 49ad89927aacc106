package pass_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

func registeredPass(t *testing.T) *pass.Pass {
	t.Helper()
	p := newPass(t)
	if _, err := p.Register(loyalty("1")); err != nil {
		t.Fatal(err)
	}
	return p
}

var phone = pass.Device{ID: "dev1", PassTypeID: "pass.com.example.test", PushToken: "abc123"}

func TestRegisterDevice_createdThenAlreadyRegisteredThenNewToken(t *testing.T) {
	p := registeredPass(t)
	if created, err := p.RegisterDevice(phone); err != nil || !created {
		t.Fatalf("first registration: created=%v err=%v, want true, nil", created, err)
	}
	if created, err := p.RegisterDevice(phone); err != nil || created {
		t.Fatalf("same registration again: created=%v err=%v, want false, nil", created, err)
	}
	moved := phone
	moved.PushToken = "def456"
	if created, err := p.RegisterDevice(moved); err != nil || created {
		t.Fatalf("new push token: created=%v err=%v, want false, nil", created, err)
	}
	want := []pass.Event{
		pass.Registered{Details: loyalty("1"), Revision: 1},
		pass.DeviceRegistered{DeviceLibraryID: "dev1", PassTypeID: phone.PassTypeID, PushToken: "abc123"},
		pass.DeviceRegistered{DeviceLibraryID: "dev1", PassTypeID: phone.PassTypeID, PushToken: "def456"},
	}
	if !reflect.DeepEqual(p.Changes(), want) {
		t.Errorf("changes = %#v\nwant %#v", p.Changes(), want)
	}
	if got := p.Devices(); !reflect.DeepEqual(got, []pass.Device{moved}) {
		t.Errorf("devices = %+v, want %+v", got, moved)
	}
	if p.Revision() != 1 {
		t.Errorf("revision = %d: a registration changes no field of the pass", p.Revision())
	}
}

func TestRegisterDevice_refusals(t *testing.T) {
	if _, err := newPass(t).RegisterDevice(phone); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("unregistered pass: err = %v, want ErrNotFound", err)
	}
	for name, d := range map[string]pass.Device{
		"empty device":       {PassTypeID: phone.PassTypeID, PushToken: "a"},
		"slash in device":    {ID: "a/b", PassTypeID: phone.PassTypeID, PushToken: "a"},
		"empty pass type":    {ID: "d", PushToken: "a"},
		"empty push token":   {ID: "d", PassTypeID: phone.PassTypeID},
		"slash in the token": {ID: "d", PassTypeID: phone.PassTypeID, PushToken: "a/../b"},
	} {
		if _, err := registeredPass(t).RegisterDevice(d); !errors.Is(err, pass.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestUnregisterDevice_onceWithItsReason(t *testing.T) {
	p := registeredPass(t)
	if _, err := p.RegisterDevice(phone); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UnregisterDevice("dev1", "bored"); !errors.Is(err, pass.ErrInvalid) {
		t.Errorf("unknown reason: err = %v, want ErrInvalid", err)
	}
	if removed, err := p.UnregisterDevice("dev1", pass.UnregisteredByDevice); err != nil || !removed {
		t.Fatalf("unregister: removed=%v err=%v", removed, err)
	}
	if removed, err := p.UnregisterDevice("dev1", pass.UnregisteredByDevice); err != nil || removed {
		t.Fatalf("unregister again: removed=%v err=%v, want false, nil", removed, err)
	}
	if len(p.Devices()) != 0 {
		t.Errorf("devices = %+v, want none", p.Devices())
	}
	last := p.Changes()[len(p.Changes())-1]
	if last != (pass.DeviceUnregistered{DeviceLibraryID: "dev1", Reason: "device"}) {
		t.Errorf("last change = %#v", last)
	}
}

// TestRecordPush_unregistersTheDevicesAPNsRemoved: the Apple channel's removed devices are unregistered with the
// reason it gives, in the pass's own stream (not a push outcome); a device not registered is left alone.
func TestRecordPush_unregistersTheDevicesAPNsRemoved(t *testing.T) {
	p := registeredPass(t)
	for _, id := range []string{"dev1", "dev2", "dev3"} {
		d := phone
		d.ID = id
		if _, err := p.RegisterDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a", DefinitionInstanceID: "d", Fields: map[string]string{"x": "1"}}); err != nil {
		t.Fatal(err)
	}
	before := len(p.Changes())
	_, err := p.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true, Channels: []pass.ChannelResult{
		{Channel: "webhook", Removed: []string{"dev3"}},
		{Channel: "apple", Pushed: []string{"dev3"}, Removed: []string{"dev1", "dev2", "ghost"},
			RemovedReasons: map[string]string{"dev1": "apns_410", "dev2": "apns_bad_token"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Changes()[before:]
	if len(got) != 3 {
		t.Fatalf("changes = %#v, want the outcome and two unregistrations", got)
	}
	want := []pass.Event{
		pass.DeviceUnregistered{DeviceLibraryID: "dev1", Reason: "apns_410"},
		pass.DeviceUnregistered{DeviceLibraryID: "dev2", Reason: "apns_bad_token"},
	}
	if !reflect.DeepEqual(got[1:], want) {
		t.Errorf("unregistrations = %#v, want %#v", got[1:], want)
	}
	for _, e := range want {
		if pass.IsPushOutcome(e) {
			t.Errorf("%s is a push outcome: it would land in the push stream", e.Name())
		}
	}
	if ids := p.Devices(); len(ids) != 1 || ids[0].ID != "dev3" {
		t.Errorf("devices = %+v, want dev3", ids)
	}
}

func TestSnapshot_keepsTheDevices(t *testing.T) {
	p := registeredPass(t)
	if _, err := p.RegisterDevice(phone); err != nil {
		t.Fatal(err)
	}
	state, pushes := p.Snapshot()
	restored, err := pass.Restore("t1", "p1", state, pushes)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.Devices(), []pass.Device{phone}) {
		t.Errorf("devices = %+v", restored.Devices())
	}
	if created, _ := restored.RegisterDevice(phone); created {
		t.Error("a device of the snapshot registered as new")
	}
}
