package passes_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/pass"
)

// observed is what a pass shows its handlers.
type observed struct {
	revision, version int
	data              map[string]string
	entryIsNew        bool
	pushIsNew         bool
}

// observe loads the pass and asks it what a resent entry a1/d1 and a repeated outcome of revision 2 would do,
// storing nothing.
func observe(t *testing.T, repo interface {
	Update(ctx context.Context, tenantID, passID string, update func(p *pass.Pass) error) error
}) observed {
	t.Helper()
	var o observed
	errNoChange := errors.New("observed; store nothing")
	err := repo.Update(context.Background(), "t1", "p1", func(p *pass.Pass) error {
		o.revision, o.version, o.data = p.Revision(), p.Version(), p.Details().Data
		var err error
		if o.entryIsNew, err = p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d1"}); err != nil {
			return err
		}
		if o.pushIsNew, err = p.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true}); err != nil {
			return err
		}
		return errNoChange
	})
	if !errors.Is(err, errNoChange) {
		t.Fatalf("observe: %v", err)
	}
	return o
}

// TestUpdate_loadsFromSnapshotsOrTheStreamAlike: every append writes a snapshot of the stream it changed, and a
// pass loads the same from its snapshots as from its streams (snapshots marked for replay, as the migration marks
// the streams stored before snapshots existed), including which contact entries and pushes it already has.
func TestUpdate_loadsFromSnapshotsOrTheStreamAlike(t *testing.T) {
	t.Parallel()
	db, _, repo := newRepository(t)
	ctx := context.Background()
	steps := []func(p *pass.Pass) error{
		register(details("loyalty", "a@example.com", "c1", "points", "1")),
		func(p *pass.Pass) error {
			_, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a1", DefinitionInstanceID: "d1", Fields: map[string]string{"offer": "10%"}})
			return err
		},
		func(p *pass.Pass) error {
			_, err := p.RecordPush(pass.PushOutcome{Revision: 2, Delivered: true})
			return err
		},
	}
	for _, step := range steps {
		if err := repo.Update(ctx, "t1", "p1", step); err != nil {
			t.Fatal(err)
		}
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM stream_snapshots WHERE tenant_id = 't1'`); n != 2 {
		t.Fatalf("%d snapshots, want one per stream (pass and pushes)", n)
	}
	fromSnapshots := observe(t, repo)
	want := observed{revision: 2, version: 2, data: map[string]string{"points": "1", "offer": "10%"}}
	if fromSnapshots.revision != want.revision || fromSnapshots.version != want.version || fromSnapshots.entryIsNew || fromSnapshots.pushIsNew ||
		fromSnapshots.data["offer"] != "10%" || fromSnapshots.data["points"] != "1" {
		t.Fatalf("loaded from snapshots: %+v, want %+v", fromSnapshots, want)
	}

	// The upgrade from before snapshots: the migration runs again on the stored events, and so do the ones after it.
	if _, err := sqldbtest.Migrations(t, db).DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM stream_snapshots WHERE state = ''`); n != 2 {
		t.Fatalf("the migration marked %d streams for replay, want both of the pass's", n)
	}
	fromStreams := observe(t, repo)
	if fromStreams.revision != fromSnapshots.revision || fromStreams.version != fromSnapshots.version ||
		fromStreams.entryIsNew || fromStreams.pushIsNew || len(fromStreams.data) != len(fromSnapshots.data) {
		t.Fatalf("loaded from the streams: %+v, from snapshots: %+v", fromStreams, fromSnapshots)
	}
}

// TestUpdate_aStaleSnapshotIsReplacedAfterTheConflict: a snapshot that fell behind its stream makes the append
// conflict; the retry replays the stream, stores the change at the right version and a current snapshot.
func TestUpdate_aStaleSnapshotIsReplacedAfterTheConflict(t *testing.T) {
	t.Parallel()
	db, events, repo := newRepository(t)
	ctx := context.Background()
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "1"))); err != nil {
		t.Fatal(err)
	}
	var stale string
	if err := db.QueryRowContext(ctx, `SELECT state FROM stream_snapshots WHERE stream_id = 'pass-p1'`).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "2"))); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE stream_snapshots SET version = 1, state = $1 WHERE stream_id = 'pass-p1'`, stale); err != nil {
		t.Fatal(err)
	}

	// Registering "2" again is no change to the pass as it is; against the stale snapshot it would look like one.
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "2"))); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "3"))); err != nil {
		t.Fatal(err)
	}
	stream := loadStream(t, events, "t1", "p1")
	if got := types(stream); len(got) != 3 || got[2] != "PassDataChanged" || stream[2].Version != 3 {
		t.Fatalf("stream %v, want registered, changed to 2, changed to 3 at version 3", got)
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM stream_snapshots WHERE stream_id = 'pass-p1' AND version = 3`); n != 1 {
		t.Error("the snapshot was not brought up to version 3")
	}
}

// TestUpdate_aStreamWrittenAroundTheRepositoryIsReplayed: a stream without a snapshot is taken for empty, so a
// stream appended to without the repository is caught by the append, which conflicts, and the retry replays it.
func TestUpdate_aStreamWrittenAroundTheRepositoryIsReplayed(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	if _, err := events.Append(ctx, []eventstore.Event{{TenantID: "t1", StreamID: passes.StreamID("p1"), Version: 1,
		Type: "PassRegistered", Payload: []byte(`{"passType":"loyalty","data":{"points":"1"},"revision":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "2"))); err != nil {
		t.Fatal(err)
	}
	if got := types(loadStream(t, events, "t1", "p1")); !slices.Equal(got, []string{"PassRegistered", "PassDataChanged"}) {
		t.Errorf("stream %v, want the registration kept and the change after it", got)
	}
}
