package passes_test

import (
	"context"
	"testing"

	"github.com/passpush/passpush/domain/pass"
)

// TestUpdate_aConflictOnAnArchivedStreamReplaysFromItsSnapshot: a stream whose first events are archived cannot
// be replayed from its start. When a concurrent writer makes an append conflict, the retry loads the other
// writer's snapshot and the events after it, and stores the change on top of what the other writer did.
func TestUpdate_aConflictOnAnArchivedStreamReplaysFromItsSnapshot(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	for _, points := range []string{"1", "2", "3"} {
		if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", points))); err != nil {
			t.Fatal(err)
		}
	}
	stream := loadStream(t, events, "t1", "p1")
	if n, err := events.DeleteArchived(ctx, []string{stream[0].ID, stream[1].ID}); err != nil || n != 2 {
		t.Fatalf("archived %d events (%v), want 2", n, err)
	}

	tries := 0
	err := repo.Update(ctx, "t1", "p1", func(p *pass.Pass) error {
		tries++
		if tries == 1 {
			// Another writer changes the pass between this load and its append.
			if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "4"))); err != nil {
				return err
			}
		}
		if p.Details().Data["points"] != "3" && p.Details().Data["points"] != "4" {
			t.Errorf("try %d loaded points %q, want 3 then 4", tries, p.Details().Data["points"])
		}
		_, err := p.Register(details("loyalty", "", "", "points", "5"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tries != 2 {
		t.Fatalf("%d tries, want 2: the first conflicts", tries)
	}
	o := observe(t, repo)
	if o.revision != 5 || o.version != 5 || o.data["points"] != "5" {
		t.Errorf("the pass is at revision %d, version %d, points %q; want 5, 5, 5", o.revision, o.version, o.data["points"])
	}
	if got := loadStream(t, events, "t1", "p1"); len(got) != 3 || got[2].Version != 5 {
		t.Errorf("the stream has %d events, the last at version %d; want 3 to version 5", len(got), got[len(got)-1].Version)
	}
}
