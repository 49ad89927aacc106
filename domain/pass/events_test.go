package pass_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

func TestDecodeEvent_roundTripsEveryEvent(t *testing.T) {
	for _, e := range []pass.Event{
		pass.Registered{Details: loyalty("1"), Revision: 1},
		pass.DataChanged{Details: pass.Details{PassType: "coupon", Data: map[string]string{"offer": "10%", "ünï": "✓"}}, Revision: 2},
	} {
		payload, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := pass.DecodeEvent(e.Name(), payload)
		if err != nil || !ok {
			t.Fatalf("DecodeEvent(%s) = %v, %v", e.Name(), ok, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("DecodeEvent(%s) = %#v, want %#v", e.Name(), got, e)
		}
	}
}

func TestDecodeEvent_payloadUsesTheAPIFieldNames(t *testing.T) {
	got, _, err := pass.DecodeEvent("PassRegistered", []byte(`{"passType":"loyalty","email":"a@example.com","customId":"c1","data":{"points":"1"},"revision":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (pass.Registered{Details: loyalty("1"), Revision: 1}); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %#v, want %#v", got, want)
	}
}

func TestDecodeEvent_unknownNameIsSkippedNotAnError(t *testing.T) {
	e, ok, err := pass.DecodeEvent("PassArchivedInAFutureVersion", []byte(`not json`))
	if e != nil || ok || err != nil {
		t.Errorf("DecodeEvent(unknown) = %v, %v, %v; want nil, false, nil", e, ok, err)
	}
}

func TestDecodeEvent_badPayloadIsAnError(t *testing.T) {
	for _, payload := range []string{``, `{`, `[]`, `{"data":[1]}`, `{"passType":1}`} {
		e, ok, err := pass.DecodeEvent("PassDataChanged", []byte(payload))
		if err == nil || !ok || e != nil {
			t.Errorf("DecodeEvent(%q) = %v, %v, %v; want nil, true, an error", payload, e, ok, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add("PassRegistered", []byte(`{"passType":"loyalty","email":"a@example.com","customId":"c1","data":{"points":"1"}}`))
	f.Add("PassDataChanged", []byte(`{"data":{"":""}}`))
	f.Add("PassDataChanged", []byte(`null`))
	f.Add("PassRegistered", []byte{0xff, 0xfe, '{'})
	f.Add("Unknown", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		e, ok, err := pass.DecodeEvent(name, payload)
		switch {
		case !ok:
			if e != nil || err != nil {
				t.Fatalf("unknown %q decoded to %v, %v", name, e, err)
			}
		case err != nil:
			if e != nil || !ok {
				t.Fatalf("failed decode of %q returned %v, %v", name, e, ok)
			}
		default:
			if !ok || e == nil || e.Name() != name {
				t.Fatalf("decode of %q returned %v, %v", name, e, ok)
			}
		}
	})
}
