package pass_test

import (
	"reflect"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

// TestRestore_actsAsThePassItWasTakenFrom: a pass restored from its snapshots has the same details, revision and
// version, still knows which contact entries and which pushes it has, and gives the same snapshots back.
func TestRestore_actsAsThePassItWasTakenFrom(t *testing.T) {
	original := newPass(t)
	entry := pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d1", Fields: map[string]string{"offer": "10%"}}
	if _, err := original.Register(loyalty("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := original.ScheduleUpdate(entry); err != nil {
		t.Fatal(err)
	}
	if _, err := original.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	original.Skip() // an event of a later version of passpush, which still takes a version
	state, pushes := original.Snapshot()

	restored, err := pass.Restore("t1", "p1", state, pushes)
	if err != nil {
		t.Fatal(err)
	}
	if !restored.Registered() || restored.Revision() != 2 || restored.Version() != 3 || len(restored.Changes()) != 0 {
		t.Fatalf("restored: registered=%v revision=%d version=%d changes=%d, want true 2 3 0",
			restored.Registered(), restored.Revision(), restored.Version(), len(restored.Changes()))
	}
	if !reflect.DeepEqual(restored.Details(), original.Details()) {
		t.Errorf("details %+v, want %+v", restored.Details(), original.Details())
	}
	gotState, gotPushes := restored.Snapshot()
	if !reflect.DeepEqual(gotState, state) || !reflect.DeepEqual(gotPushes, pushes) {
		t.Errorf("snapshots of the restored pass differ:\n%+v %+v\nwant\n%+v %+v", gotState, gotPushes, state, pushes)
	}
	if scheduled, err := restored.ScheduleUpdate(entry); err != nil || scheduled {
		t.Errorf("a resent entry after restore: scheduled=%v err=%v, want false, nil", scheduled, err)
	}
	if recorded, err := restored.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true}); err != nil || recorded {
		t.Errorf("a pushed revision recorded again after restore: recorded=%v err=%v, want false, nil", recorded, err)
	}
	if scheduled, err := restored.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d2"}); err != nil || !scheduled {
		t.Errorf("a new entry after restore: scheduled=%v err=%v, want true, nil", scheduled, err)
	}
}

func TestRestore_rejectsABadID(t *testing.T) {
	if _, err := pass.Restore("t1", "", pass.Snapshot{}, pass.PushSnapshot{}); err == nil {
		t.Error("restored a pass without an id")
	}
}
