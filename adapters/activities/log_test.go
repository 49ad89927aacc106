package activities_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/passpush/passpush/adapters/activities"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/activity"
)

// twoInstances opens the same fresh database twice, as two passpush instances would, and returns an activity
// log and an event store on each.
func twoInstances(t *testing.T) (logs [2]*activities.Log, stores [2]*eventstore.Store) {
	t.Helper()
	url := sqldbtest.NewURL(t)
	ctx := context.Background()
	for i := range 2 {
		db, err := sqldb.Open(ctx, url, sqldb.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if i == 0 {
			if _, err := sqldb.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
		}
		publisher, err := messaging.NewEventPublisher(db, messaging.NewLogger(contracttest.Logger()))
		if err != nil {
			t.Fatal(err)
		}
		if stores[i], err = eventstore.New(db, publisher); err != nil {
			t.Fatal(err)
		}
		if logs[i], err = activities.NewLog(stores[i]); err != nil {
			t.Fatal(err)
		}
	}
	return logs, stores
}

func TestLog_theSameCallFromTwoInstancesAtOnceIsAppendedOnce(t *testing.T) {
	logs, stores := twoInstances(t)
	ctx := context.Background()
	call := activity.Lifecycle{Stage: activity.Published, ActivityObjectID: "object-1", InteractionID: "journey-1", InteractionVersion: "3"}

	var appended atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := logs[i%2].Append(ctx, "acme", call)
			if err != nil {
				t.Errorf("append %d: %v", i, err)
			}
			if ok {
				appended.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := appended.Load(); n != 1 {
		t.Fatalf("%d of 8 concurrent appends of the same call say they appended, want 1", n)
	}
	// Another stage, or another version of the journey, is another call; another tenant's is its own.
	next := call
	next.InteractionVersion = "4"
	for _, c := range []struct {
		tenant string
		call   activity.Lifecycle
	}{{"acme", activity.Lifecycle{Stage: activity.Stopped, ActivityObjectID: "object-1", InteractionID: "journey-1", InteractionVersion: "3"}}, {"acme", next}, {"other", call}} {
		if ok, err := logs[1].Append(ctx, c.tenant, c.call); err != nil || !ok {
			t.Errorf("append %s of %s: %v, %v; want appended", c.call.Key(), c.tenant, ok, err)
		}
	}
	streams, err := stores[0].Load(ctx, "acme", activities.StreamID(call))
	if err != nil {
		t.Fatal(err)
	}
	if events := streams[activities.StreamID(call)]; len(events) != 1 || events[0].Version != 1 || events[0].Type != "ActivityPublished" {
		t.Fatalf("the call's stream holds %+v, want one ActivityPublished", events)
	}
}
