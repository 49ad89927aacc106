package tenants_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/domain/tenant"
)

func newChangeLog(t *testing.T, committed func(string)) (*tenants.Store, *eventstore.Store, *tenants.ChangeLog) {
	t.Helper()
	db := sqldbtest.New(t)
	publisher, err := messaging.NewEventPublisher(db, messaging.NewLogger(contracttest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	events, err := eventstore.New(db, publisher)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tenants.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	changes, err := tenants.NewChangeLog(db, events, contracttest.Logger(), committed)
	if err != nil {
		t.Fatal(err)
	}
	return store, events, changes
}

// unencodable is a tenant event whose payload cannot be encoded, so its append fails after the change is made.
type unencodable struct{ C chan int }

func (unencodable) Name() string     { return "Unencodable" }
func (unencodable) By() tenant.Actor { return tenant.Actor{} }

func TestChangeLog_aChangeIsNeverStoredWithoutItsEvent(t *testing.T) {
	t.Parallel()
	store, events, changes := newChangeLog(t, nil)
	ctx := context.Background()
	err := changes.Record(ctx, "acme", func(ctx context.Context) ([]tenant.Event, error) {
		if err := store.Save(ctx, acme()); err != nil {
			return nil, err
		}
		return []tenant.Event{unencodable{}}, nil
	})
	if err == nil {
		t.Fatal("an event that cannot be appended did not fail the change")
	}
	if _, err := store.Get(ctx, "acme"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("the tenant was saved without its event: %v", err)
	}
	if v, err := events.StreamVersion(ctx, "acme", tenants.StreamID("acme")); err != nil || v != 0 {
		t.Fatalf("tenant-acme at version %d, %v", v, err)
	}
}

func TestChangeLog_concurrentChangesEachGetTheirEvent(t *testing.T) {
	t.Parallel()
	forgotten := make(chan string, 8)
	_, events, changes := newChangeLog(t, func(id string) { forgotten <- id })
	ctx := context.Background()
	const writers = 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- changes.Record(ctx, "acme", func(ctx context.Context) ([]tenant.Event, error) {
				// Nothing else is written, as when keys are made at once: nothing but the stream's version orders
				// the writers.
				return []tenant.Event{tenant.APIKeyCreated{Actor: tenant.Actor{Name: "cli"}, Key: string(rune('a' + i))}}, nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stream, err := events.Load(ctx, "acme", tenants.StreamID("acme"))
	if err != nil {
		t.Fatal(err)
	}
	got := stream[tenants.StreamID("acme")]
	if len(got) != writers {
		t.Fatalf("tenant-acme holds %d events, want %d", len(got), writers)
	}
	for i, e := range got {
		if e.Version != i+1 || e.Type != "TenantAPIKeyCreated" || e.TenantID != "acme" {
			t.Fatalf("event %d: %s v%d of %s", i, e.Type, e.Version, e.TenantID)
		}
	}
	if len(forgotten) < writers {
		t.Fatalf("the cache was told of %d commits, want %d", len(forgotten), writers)
	}
}
