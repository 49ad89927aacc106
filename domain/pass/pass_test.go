package pass_test

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

func newPass(t *testing.T) *pass.Pass {
	t.Helper()
	p, err := pass.New("t1", "p1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loyalty(points string) pass.Details {
	return pass.Details{PassType: "loyalty", Email: "a@example.com", CustomID: "c1", Data: map[string]string{"points": points}}
}

func TestRegister_newPassRecordsRegistered(t *testing.T) {
	p := newPass(t)
	created, err := p.Register(loyalty("1"))
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new pass")
	}
	want := []pass.Event{pass.Registered{Details: loyalty("1"), Revision: 1}}
	if !reflect.DeepEqual(p.Changes(), want) {
		t.Errorf("changes = %#v, want %#v", p.Changes(), want)
	}
	if !p.Registered() || p.Version() != 1 || p.StoredVersion() != 0 {
		t.Errorf("registered=%v version=%d stored=%d, want true 1 0", p.Registered(), p.Version(), p.StoredVersion())
	}
	if !reflect.DeepEqual(p.Details(), loyalty("1")) {
		t.Errorf("details = %#v", p.Details())
	}
}

func TestRegister_differentDetailsRecordDataChanged(t *testing.T) {
	p := newPass(t)
	p.Apply(pass.Registered{Details: loyalty("1"), Revision: 1})
	created, err := p.Register(loyalty("2"))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for a registered pass")
	}
	want := []pass.Event{pass.DataChanged{Details: loyalty("2"), Revision: 2}}
	if !reflect.DeepEqual(p.Changes(), want) {
		t.Errorf("changes = %#v, want %#v", p.Changes(), want)
	}
	if p.Version() != 2 || p.StoredVersion() != 1 || p.Revision() != 2 {
		t.Errorf("version=%d stored=%d revision=%d, want 2 1 2", p.Version(), p.StoredVersion(), p.Revision())
	}
}

func TestRegister_eachChangedFieldCounts(t *testing.T) {
	base := loyalty("1")
	for name, change := range map[string]func(d *pass.Details){
		"passType":    func(d *pass.Details) { d.PassType = "coupon" },
		"email":       func(d *pass.Details) { d.Email = "b@example.com" },
		"email case":  func(d *pass.Details) { d.Email = "A@example.com" },
		"customId":    func(d *pass.Details) { d.CustomID = "c2" },
		"data value":  func(d *pass.Details) { d.Data = map[string]string{"points": "2"} },
		"data added":  func(d *pass.Details) { d.Data = map[string]string{"points": "1", "tier": "gold"} },
		"data gone":   func(d *pass.Details) { d.Data = map[string]string{} },
		"data rename": func(d *pass.Details) { d.Data = map[string]string{"score": "1"} },
	} {
		t.Run(name, func(t *testing.T) {
			p := newPass(t)
			p.Apply(pass.Registered{Details: base, Revision: 1})
			d := base
			d.Data = maps.Clone(base.Data)
			change(&d)
			if _, err := p.Register(d); err != nil {
				t.Fatal(err)
			}
			if len(p.Changes()) != 1 {
				t.Fatalf("changes = %#v, want one PassDataChanged", p.Changes())
			}
			if _, ok := p.Changes()[0].(pass.DataChanged); !ok {
				t.Errorf("change = %T, want pass.DataChanged", p.Changes()[0])
			}
		})
	}
}

func TestRegister_sameDetailsRecordNothing(t *testing.T) {
	p := newPass(t)
	p.Apply(pass.Registered{Details: loyalty("1"), Revision: 1})
	created, err := p.Register(loyalty("1"))
	if err != nil {
		t.Fatal(err)
	}
	if created || len(p.Changes()) != 0 || p.Version() != 1 || p.Revision() != 1 {
		t.Errorf("created=%v changes=%#v version=%d revision=%d, want false, none, 1, 1", created, p.Changes(), p.Version(), p.Revision())
	}
}

func TestRegister_nilDataEqualsEmptyData(t *testing.T) {
	p := newPass(t)
	if _, err := p.Register(pass.Details{PassType: "loyalty"}); err != nil {
		t.Fatal(err)
	}
	if got := p.Details().Data; got == nil {
		t.Error("registered data is nil, want an empty map so it encodes as {}")
	}
	if _, err := p.Register(pass.Details{PassType: "loyalty", Data: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if len(p.Changes()) != 1 {
		t.Errorf("changes = %#v, want only the registration", p.Changes())
	}
}

func TestRegister_twiceInOneLoadRecordsBoth(t *testing.T) {
	p := newPass(t)
	if _, err := p.Register(loyalty("1")); err != nil {
		t.Fatal(err)
	}
	created, err := p.Register(loyalty("2"))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second registration reported created")
	}
	if len(p.Changes()) != 2 || p.Version() != 2 || p.StoredVersion() != 0 {
		t.Errorf("changes=%d version=%d stored=%d, want 2 2 0", len(p.Changes()), p.Version(), p.StoredVersion())
	}
}

func TestRegister_invalidDetailsRecordNothing(t *testing.T) {
	p := newPass(t)
	_, err := p.Register(pass.Details{})
	if !errors.Is(err, pass.ErrInvalid) {
		t.Fatalf("err = %v, want pass.ErrInvalid", err)
	}
	if len(p.Changes()) != 0 || p.Version() != 0 || p.Registered() {
		t.Errorf("an invalid registration changed the pass: %#v", p)
	}
}

func TestDetailsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		details pass.Details
		valid   bool
	}{
		{"minimal", pass.Details{PassType: "loyalty"}, true},
		{"full", loyalty("1"), true},
		{"no pass type", pass.Details{Email: "a@example.com"}, false},
		{"blank pass type", pass.Details{PassType: " \t"}, false},
		{"pass type 255", pass.Details{PassType: strings.Repeat("x", 255)}, true},
		{"pass type 256", pass.Details{PassType: strings.Repeat("x", 256)}, false},
		{"email 320", pass.Details{PassType: "x", Email: strings.Repeat("a", 310) + "@example.c"}, true},
		{"email 321", pass.Details{PassType: "x", Email: strings.Repeat("a", 311) + "@example.c"}, false},
		{"email without @", pass.Details{PassType: "x", Email: "a.example.com"}, false},
		{"no email", pass.Details{PassType: "x", Email: ""}, true},
		{"custom id 255", pass.Details{PassType: "x", CustomID: strings.Repeat("c", 255)}, true},
		{"custom id 256", pass.Details{PassType: "x", CustomID: strings.Repeat("c", 256)}, false},
		{"empty data field name", pass.Details{PassType: "x", Data: map[string]string{"": "v"}}, false},
		{"blank data field name", pass.Details{PassType: "x", Data: map[string]string{" ": "v"}}, false},
		{"empty data value", pass.Details{PassType: "x", Data: map[string]string{"k": ""}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.details.Validate()
			if tc.valid && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tc.valid && !errors.Is(err, pass.ErrInvalid) {
				t.Errorf("Validate() = %v, want pass.ErrInvalid", err)
			}
		})
	}
}

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id    string
		valid bool
	}{
		{"p1", true},
		{"A", true},
		{"0", true},
		{"a.b_c:d@e-f", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-leading-dash", false},
		{".leading-dot", false},
		{"has space", false},
		{"has/slash", false},
		{"has?query", false},
		{"ünïcode", false},
		{"line\nbreak", false},
	} {
		err := pass.ValidateID(tc.id)
		if tc.valid && err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", tc.id, err)
		}
		if !tc.valid && !errors.Is(err, pass.ErrInvalid) {
			t.Errorf("ValidateID(%q) = %v, want pass.ErrInvalid", tc.id, err)
		}
	}
}

func TestNew_rejectsMissingTenantAndBadID(t *testing.T) {
	if _, err := pass.New("", "p1"); !errors.Is(err, pass.ErrInvalid) {
		t.Errorf("New without tenant: err = %v, want pass.ErrInvalid", err)
	}
	if _, err := pass.New("t1", "bad id"); !errors.Is(err, pass.ErrInvalid) {
		t.Errorf("New with a bad id: err = %v, want pass.ErrInvalid", err)
	}
	p, err := pass.New("t1", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantID() != "t1" || p.ID() != "p1" || p.Registered() || p.Version() != 0 {
		t.Errorf("New = %#v", p)
	}
}

func TestApply_replaysStoredEventsWithoutRecordingThem(t *testing.T) {
	p := newPass(t)
	p.Apply(pass.Registered{Details: loyalty("1"), Revision: 1})
	p.Apply(pass.DataChanged{Details: loyalty("2"), Revision: 2})
	if p.Version() != 2 || p.StoredVersion() != 2 || len(p.Changes()) != 0 {
		t.Errorf("version=%d stored=%d changes=%d, want 2 2 0", p.Version(), p.StoredVersion(), len(p.Changes()))
	}
	if !p.Registered() || !reflect.DeepEqual(p.Details(), loyalty("2")) {
		t.Errorf("registered=%v details=%#v", p.Registered(), p.Details())
	}
}

func TestSkip_unknownStoredEventStillTakesAVersion(t *testing.T) {
	p := newPass(t)
	p.Apply(pass.Registered{Details: loyalty("1"), Revision: 1})
	p.Skip() // an event of a newer version of passpush
	before := p.Details()
	if _, err := p.Register(loyalty("2")); err != nil {
		t.Fatal(err)
	}
	if p.StoredVersion() != 2 || p.Version() != 3 {
		t.Errorf("stored=%d version=%d, want 2 3: the change must take version 3", p.StoredVersion(), p.Version())
	}
	// The skipped event is not a change clients see: the revision counts on from the registration.
	if want := []pass.Event{pass.DataChanged{Details: loyalty("2"), Revision: 2}}; !reflect.DeepEqual(p.Changes(), want) {
		t.Errorf("changes = %#v, want %#v", p.Changes(), want)
	}
	if !reflect.DeepEqual(before, loyalty("1")) {
		t.Errorf("Skip changed the details: %#v", before)
	}
}
