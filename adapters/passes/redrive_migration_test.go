package passes_test

import (
	"context"
	"testing"

	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/pass"
)

// TestMigration00018_aPushSnapshotWithoutItsFailuresIsReplayed: push snapshots written before a pass kept its
// failed revisions say nothing of them, so a pass loaded from one could not be redriven. Migration 00018 marks
// the snapshots of streams with a failure for replay, and the pass loaded after it can.
func TestMigration00018_aPushSnapshotWithoutItsFailuresIsReplayed(t *testing.T) {
	db, _, repo := newRepository(t)
	ctx := context.Background()
	update := func(fn func(p *pass.Pass) error) {
		t.Helper()
		if err := repo.Update(ctx, "t1", "p1", fn); err != nil {
			t.Fatal(err)
		}
	}
	update(register(details("loyalty", "", "")))
	update(func(p *pass.Pass) error {
		_, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d1"})
		return err
	})
	update(func(p *pass.Pass) error {
		_, err := p.RecordPush(pass.PushOutcome{Revision: 2, ScheduledEventID: "ev-2", Reason: "rejected",
			Channels: []pass.ChannelResult{{Channel: "webhook", Outcome: "failed", Attempts: 1}}})
		return err
	})
	// The snapshot as a build before 00018 wrote it.
	if _, err := db.ExecContext(ctx, `UPDATE stream_snapshots SET state = '{"pushed":[2]}' WHERE stream_id = 'pushes-p1'`); err != nil {
		t.Fatal(err)
	}
	redrive := func() bool {
		t.Helper()
		redriven := false
		update(func(p *pass.Pass) error {
			var err error
			redriven, err = p.RedriveDelivery(pass.Redrive{Revision: 2, Reason: "r"})
			return err
		})
		return redriven
	}
	if redrive() {
		t.Fatal("a pass loaded from an old push snapshot was redriven: the test's premise does not hold")
	}

	migrations := sqldbtest.Migrations(t, db)
	if _, err := migrations.ApplyVersion(ctx, 18, false); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.ApplyVersion(ctx, 18, true); err != nil {
		t.Fatal(err)
	}
	if !redrive() {
		t.Error("after migration 00018 the failed update cannot be redriven")
	}
	if redrive() {
		t.Error("redriven twice")
	}
}
