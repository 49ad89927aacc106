package activity

import (
	"testing"
)

// Events stored before issue 13 carry "signed"; they still decode.
func TestDecodeEvent_readsEventsStoredWithTheSignedField(t *testing.T) {
	old := []byte(`{"stage":"save","activityObjectID":"o-1","interactionId":"j-1","originalDefinitionId":"d","interactionKey":"k","interactionVersion":"3","signed":false}`)
	l, ok, err := DecodeEvent("ActivitySaved", old)
	if err != nil || !ok || l.Stage != Saved || l.ActivityObjectID != "o-1" || l.InteractionID != "j-1" || l.InteractionVersion != "3" {
		t.Fatalf("DecodeEvent = %+v, %v, %v", l, ok, err)
	}
}

func TestLifecycle_keyTellsApartEveryPartAndOnlyThem(t *testing.T) {
	base := Lifecycle{Stage: Saved, ActivityObjectID: "o", InteractionID: "j", InteractionVersion: "1", InteractionKey: "k"}
	same := base
	same.InteractionKey, same.OriginalDefinitionID = "other-key", "other-definition"
	if base.Key() != same.Key() {
		t.Errorf("keys differ on fields outside the dedupe key: %q, %q", base.Key(), same.Key())
	}
	for name, change := range map[string]func(l *Lifecycle){
		"stage":    func(l *Lifecycle) { l.Stage = Published },
		"activity": func(l *Lifecycle) { l.ActivityObjectID = "o2" },
		"journey":  func(l *Lifecycle) { l.InteractionID = "j2" },
		"version":  func(l *Lifecycle) { l.InteractionVersion = "2" },
		// Ids may hold "-", ":" and ".", never "/": a part cannot spill into the next.
		"shifted": func(l *Lifecycle) { l.ActivityObjectID, l.InteractionID = "o-j", "" },
	} {
		other := base
		change(&other)
		if other.Key() == base.Key() {
			t.Errorf("%s: the key %q does not change", name, other.Key())
		}
	}
	if (Lifecycle{Stage: Saved}).Identified() || !(Lifecycle{InteractionID: "j"}).Identified() || !(Lifecycle{ActivityObjectID: "o"}).Identified() {
		t.Error("Identified must need activityObjectID or interactionId")
	}
}
