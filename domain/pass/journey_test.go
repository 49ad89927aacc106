package pass_test

import (
	"errors"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

func TestIdentifiers_Validate(t *testing.T) {
	for _, c := range []struct {
		name  string
		ids   pass.Identifiers
		valid bool
	}{
		{"a passId", pass.Identifiers{PassID: "p-1"}, true},
		{"a customId", pass.Identifiers{CustomID: "c-1"}, true},
		{"an email and a pass type", pass.Identifiers{Email: "ann@example.com", PassType: "loyalty"}, true},
		{"none", pass.Identifiers{}, false},
		{"a pass type alone", pass.Identifiers{PassType: "loyalty"}, false},
		{"a NUL in the email", pass.Identifiers{Email: "ann\x00@example.com"}, false},
		{"a NUL in the pass type", pass.Identifiers{PassID: "p-1", PassType: "loyalty\x00"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.ids.Validate()
			if c.valid != (err == nil) {
				t.Fatalf("Validate() = %v, want valid %v", err, c.valid)
			}
			if err != nil && (!errors.Is(err, pass.ErrIdentifiers) || !errors.Is(err, pass.ErrInvalid)) {
				t.Fatalf("Validate() = %v, want it to wrap ErrIdentifiers and ErrInvalid", err)
			}
		})
	}
}

func TestUpdateFromJourney_refusalsAreNotAboutTheIdentifiers(t *testing.T) {
	for _, u := range []pass.UpdateFromJourney{
		{ActivityID: "a"},
		{ActivityID: "a", DefinitionInstanceID: "e", Fields: map[string]string{" ": "x"}},
		{ActivityID: "a", DefinitionInstanceID: "e", Message: "\x00"},
	} {
		if err := u.Validate(); !errors.Is(err, pass.ErrInvalid) || errors.Is(err, pass.ErrIdentifiers) {
			t.Errorf("Validate(%+v) = %v, want an ErrInvalid that is not ErrIdentifiers", u, err)
		}
	}
}
