package eventstore_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     string
		payload string
		want    eventstore.DomainEvent
		known   bool
	}{
		{"a pass event", "PassUpdateScheduled", `{"journeyId":"j1","revision":2,"passType":"loyalty","data":{"tier":"gold"}}`,
			pass.UpdateScheduled{UpdateFromJourney: pass.UpdateFromJourney{JourneyID: "j1"}, Revision: 2, PassType: "loyalty",
				Data: map[string]string{"tier": "gold"}}, true},
		{"an activity's lifecycle call", "ActivityPublished", `{"stage":"publish","interactionId":"i1"}`,
			activity.Lifecycle{Stage: activity.Published, InteractionID: "i1"}, true},
		{"another type", "ProjectionSkipped", `{"projection":"audit"}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, known, err := eventstore.Event{Type: tc.typ, Payload: []byte(tc.payload)}.Decode()
			if err != nil || known != tc.known || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode() = %#v, %v, %v; want %#v, %v, nil", got, known, err, tc.want, tc.known)
			}
		})
	}
}

func TestDecode_namesTheEventItCannotDecode(t *testing.T) {
	for _, typ := range []string{"PassRegistered", "ActivitySaved"} {
		e := eventstore.Event{ID: "e1", Position: eventstore.Position{Sequence: 7}, Type: typ, Payload: []byte(`{"revision":"two","stage":3}`)}
		_, known, err := e.Decode()
		var eventErr *eventstore.EventError
		if !known || !errors.As(err, &eventErr) || eventErr.EventID != "e1" || eventErr.Position.Sequence != 7 {
			t.Errorf("%s: Decode() = known %v, error %v; want an EventError naming e1 at 7", typ, known, err)
		}
	}
}

// The projections consumer decodes a batch once for all its projections: each projection's Decode, on its own
// copy of the events, returns that decoding instead of reading the payload again.
func TestDecodeAll_decodesEachEventOnceForEveryCopy(t *testing.T) {
	events := []eventstore.Event{
		{Type: "PassUpdateScheduled", Payload: []byte(`{"revision":2,"passType":"loyalty"}`)},
		{Type: "PassRegistered", Payload: []byte(`{"revision":"two"}`)},
		{Type: "ProjectionSkipped", Payload: []byte(`{}`)},
	}
	eventstore.DecodeAll(events)
	copies := append([]eventstore.Event(nil), events...)
	for i := range copies {
		// Were the payload read again, these would decode differently.
		copies[i].Payload = []byte(`{"revision":3,"passType":"generic"}`)
	}
	got, known, err := copies[0].Decode()
	if want := (pass.UpdateScheduled{Revision: 2, PassType: "loyalty"}); err != nil || !known || !reflect.DeepEqual(got, want) {
		t.Errorf("Decode() = %#v, %v, %v; want %#v, true, nil", got, known, err, want)
	}
	if _, known, err := copies[1].Decode(); err == nil || !known {
		t.Errorf("Decode() of an event that failed to decode = %v, %v; want its error again", known, err)
	}
	if got, known, err := copies[2].Decode(); got != nil || known || err != nil {
		t.Errorf("Decode() of an unknown type = %#v, %v, %v; want nil, false, nil", got, known, err)
	}
}
