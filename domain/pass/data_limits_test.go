package pass_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

// fieldsN is n fields f0…f(n-1).
func fieldsN(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("f%d", i)] = "v"
	}
	return m
}

func TestDataLimits_atTheLimitPassPastItRefusedNamingTheLimit(t *testing.T) {
	atLimit := fieldsN(pass.MaxFields - 1)
	atLimit[strings.Repeat("k", pass.MaxFieldNameBytes)] = strings.Repeat("v", pass.MaxFieldValueBytes)
	past := map[string]struct {
		data map[string]string
		want string
	}{
		"fields":     {fieldsN(pass.MaxFields + 1), "limit of 100 fields"},
		"name bytes": {map[string]string{strings.Repeat("k", pass.MaxFieldNameBytes+1): "v"}, "limit of 64 bytes"},
		"value":      {map[string]string{"k": strings.Repeat("v", pass.MaxFieldValueBytes+1)}, "limit of 2048 bytes"},
	}

	d := pass.Details{PassType: "loyalty", Data: atLimit}
	if err := d.Validate(); err != nil {
		t.Fatalf("data at every limit refused: %v", err)
	}
	u := pass.UpdateFromJourney{ActivityID: "a", DefinitionInstanceID: "e", Fields: atLimit}
	if err := u.Validate(); err != nil {
		t.Fatalf("an update at every limit refused: %v", err)
	}
	for name, tt := range past {
		d := pass.Details{PassType: "loyalty", Data: tt.data}
		if err := d.Validate(); !errors.Is(err, pass.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("details past the %s limit: %v, want ErrInvalid naming %q", name, err, tt.want)
		}
		u := pass.UpdateFromJourney{ActivityID: "a", DefinitionInstanceID: "e", Fields: tt.data}
		if err := u.Validate(); !errors.Is(err, pass.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("an update past the %s limit: %v, want ErrInvalid naming %q", name, err, tt.want)
		}
	}
}

// A journey update merges its fields into the data: the cap is on the result, and a refused update changes nothing.
func TestScheduleUpdate_theMergedDataKeepsTheFieldCap(t *testing.T) {
	p := newPass(t)
	if _, err := p.Register(pass.Details{PassType: "loyalty", Data: fieldsN(pass.MaxFields - 1)}); err != nil {
		t.Fatal(err)
	}
	update := func(entry string, fields map[string]string) error {
		_, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a", DefinitionInstanceID: entry, Fields: fields})
		return err
	}
	if err := update("e1", map[string]string{"new-1": "x", "f0": "changed"}); err != nil {
		t.Fatalf("an update to exactly %d fields refused: %v", pass.MaxFields, err)
	}
	before, changes := maps.Clone(p.Details().Data), len(p.Changes())
	err := update("e2", map[string]string{"new-2": "x"})
	if !errors.Is(err, pass.ErrInvalid) || !strings.Contains(err.Error(), "limit of 100 fields") {
		t.Fatalf("an update to %d fields: %v, want ErrInvalid naming the limit", pass.MaxFields+1, err)
	}
	if !maps.Equal(p.Details().Data, before) || len(p.Changes()) != changes {
		t.Errorf("the refused update changed the pass: %d fields, %d changes", len(p.Details().Data), len(p.Changes()))
	}
	if err := update("e3", map[string]string{"f1": "changed"}); err != nil {
		t.Errorf("an update of existing fields at the cap refused: %v", err)
	}
}
