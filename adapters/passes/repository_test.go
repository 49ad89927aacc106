package passes_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/pass"
)

// newRepository returns a pass repository over an event store on a fresh database, without a bus.
func newRepository(t *testing.T) (*sqldb.DB, *eventstore.Store, *passes.Repository) {
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
	repo, err := passes.NewRepository(db, events)
	if err != nil {
		t.Fatal(err)
	}
	return db, events, repo
}

func details(passType, email, customID string, data ...string) pass.Details {
	d := pass.Details{PassType: passType, Email: email, CustomID: customID, Data: map[string]string{}}
	for i := 0; i+1 < len(data); i += 2 {
		d.Data[data[i]] = data[i+1]
	}
	return d
}

func register(d pass.Details) func(p *pass.Pass) error {
	return func(p *pass.Pass) error {
		_, err := p.Register(d)
		return err
	}
}

func loadStream(t *testing.T, events *eventstore.Store, tenantID, passID string) []eventstore.Event {
	t.Helper()
	loaded, err := events.Load(context.Background(), tenantID, passes.StreamID(passID))
	if err != nil {
		t.Fatal(err)
	}
	return loaded[passes.StreamID(passID)]
}

func types(events []eventstore.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

func TestUpdate_concurrentWritersOfOnePassAllSucceed(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- repo.Update(context.Background(), "t1", "hot", register(details("loyalty", "", "", "writer", strconv.Itoa(i))))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a writer failed: %v", err)
		}
	}

	stream := loadStream(t, events, "t1", "hot")
	if len(stream) != writers {
		t.Fatalf("stream has %d events, want one per writer (%d)", len(stream), writers)
	}
	seen := map[string]bool{}
	for i, e := range stream {
		if e.Version != i+1 {
			t.Errorf("event %d has version %d, want consecutive versions from 1", i, e.Version)
		}
		want := "PassDataChanged"
		if i == 0 {
			want = "PassRegistered"
		}
		if e.Type != want {
			t.Errorf("event %d is %s, want %s", i, e.Type, want)
		}
		decoded, _, err := pass.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var d pass.Details
		switch ev := decoded.(type) {
		case pass.Registered:
			d = ev.Details
		case pass.DataChanged:
			d = ev.Details
		}
		seen[d.Data["writer"]] = true
	}
	if len(seen) != writers {
		t.Errorf("the stream holds %d distinct writers' details, want %d", len(seen), writers)
	}
}

func TestUpdate_registeringSameDetailsTwiceRecordsOneEvent(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	d := details("loyalty", "a@example.com", "c1", "points", "1")
	for range 3 {
		if err := repo.Update(ctx, "t1", "p1", register(d)); err != nil {
			t.Fatal(err)
		}
	}
	// No data and empty data are the same details.
	for _, d := range []pass.Details{{PassType: "coupon"}, {PassType: "coupon", Data: map[string]string{}}} {
		if err := repo.Update(ctx, "t1", "p2", register(d)); err != nil {
			t.Fatal(err)
		}
	}
	if got := types(loadStream(t, events, "t1", "p1")); !slices.Equal(got, []string{"PassRegistered"}) {
		t.Errorf("p1 stream = %v, want one PassRegistered", got)
	}
	if got := types(loadStream(t, events, "t1", "p2")); !slices.Equal(got, []string{"PassRegistered"}) {
		t.Errorf("p2 stream = %v, want one PassRegistered", got)
	}
}

func TestUpdate_loadsThePassFromItsStream(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "a@example.com", "c1", "points", "1"))); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "a@example.com", "c1", "points", "2"))); err != nil {
		t.Fatal(err)
	}
	var loaded pass.Pass
	err := repo.Update(ctx, "t1", "p1", func(p *pass.Pass) error {
		loaded = *p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Registered() || loaded.Version() != 2 || loaded.Details().Data["points"] != "2" || loaded.TenantID() != "t1" {
		t.Errorf("loaded pass: registered=%v version=%d details=%+v tenant=%s", loaded.Registered(), loaded.Version(), loaded.Details(), loaded.TenantID())
	}
	// Another tenant's pass of the same id is another pass.
	err = repo.Update(ctx, "t2", "p1", func(p *pass.Pass) error {
		if p.Registered() || p.Version() != 0 {
			return fmt.Errorf("tenant t2 sees t1's pass: version %d", p.Version())
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got := types(loadStream(t, events, "t2", "p1")); len(got) != 0 {
		t.Errorf("t2 stream = %v, want none", got)
	}
}

func TestUpdate_countsStoredEventsItDoesNotKnow(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", ""))); err != nil {
		t.Fatal(err)
	}
	// An event a newer passpush wrote to the stream.
	if _, err := events.Append(ctx, []eventstore.Event{{TenantID: "t1", StreamID: passes.StreamID("p1"), Version: 2,
		Type: "PassArchivedInAFutureVersion", Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "", "", "points", "5"))); err != nil {
		t.Fatal(err)
	}
	stream := loadStream(t, events, "t1", "p1")
	if len(stream) != 3 || stream[2].Type != "PassDataChanged" || stream[2].Version != 3 {
		t.Errorf("stream = %v, want the change at version 3", types(stream))
	}
}

func TestUpdate_failingUpdateStoresNothing(t *testing.T) {
	t.Parallel()
	db, _, repo := newRepository(t)
	errRefused := errors.New("refused")
	calls := 0
	err := repo.Update(context.Background(), "t1", "p1", func(p *pass.Pass) error {
		calls++
		if _, err := p.Register(details("loyalty", "", "")); err != nil {
			return err
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("err = %v, want the update's error", err)
	}
	if calls != 1 {
		t.Errorf("update called %d times, want once: only conflicts are retried", calls)
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events stored", n)
	}
	if err := repo.Update(context.Background(), "t1", "p1", register(pass.Details{})); !errors.Is(err, pass.ErrInvalid) {
		t.Errorf("invalid details: err = %v, want pass.ErrInvalid", err)
	}
}

func TestUpdateAll_storesEveryPassOfTheBatchInOneGo(t *testing.T) {
	t.Parallel()
	db, events, repo := newRepository(t)
	ctx := context.Background()
	ids := make([]string, 120)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%04d", i)
	}
	first := func(p *pass.Pass) error {
		_, err := p.Register(details("loyalty", p.ID()+"@example.com", "", "points", "1"))
		return err
	}
	if err := repo.UpdateAll(ctx, "t1", ids, first); err != nil {
		t.Fatal(err)
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM events WHERE tenant_id = 't1' AND event_type = 'PassRegistered' AND stream_version = 1`); n != len(ids) {
		t.Fatalf("%d registrations stored, want %d", n, len(ids))
	}

	// Again: the odd passes change, the even ones stay as they are.
	second := func(p *pass.Pass) error {
		n, _ := strconv.Atoi(p.ID()[1:])
		points := "1"
		if n%2 == 1 {
			points = "2"
		}
		_, err := p.Register(details("loyalty", p.ID()+"@example.com", "", "points", points))
		return err
	}
	if err := repo.UpdateAll(ctx, "t1", ids, second); err != nil {
		t.Fatal(err)
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM events WHERE event_type = 'PassDataChanged' AND stream_version = 2`); n != len(ids)/2 {
		t.Errorf("%d changes stored, want %d", n, len(ids)/2)
	}
	if got := types(loadStream(t, events, "t1", "p0001")); !slices.Equal(got, []string{"PassRegistered", "PassDataChanged"}) {
		t.Errorf("p0001 = %v", got)
	}
	if got := types(loadStream(t, events, "t1", "p0002")); !slices.Equal(got, []string{"PassRegistered"}) {
		t.Errorf("p0002 = %v", got)
	}

	// One failing pass fails the whole batch: nothing of it is stored.
	before := contracttest.Count(t, db, `SELECT count(*) FROM events`)
	err := repo.UpdateAll(ctx, "t1", []string{"new-1", "p0001", "new-2"}, func(p *pass.Pass) error {
		if p.ID() == "new-2" {
			_, err := p.Register(pass.Details{})
			return err
		}
		_, err := p.Register(details("coupon", "", ""))
		return err
	})
	if !errors.Is(err, pass.ErrInvalid) {
		t.Fatalf("err = %v, want pass.ErrInvalid", err)
	}
	if after := contracttest.Count(t, db, `SELECT count(*) FROM events`); after != before {
		t.Errorf("a failed batch stored %d events", after-before)
	}
}

func TestUpdateAll_retriesTheBatchWhenAnotherWriterTakesAVersion(t *testing.T) {
	t.Parallel()
	_, events, repo := newRepository(t)
	ctx := context.Background()
	ids := []string{"a", "b", "c"}
	if err := repo.UpdateAll(ctx, "t1", ids, register(details("loyalty", "", ""))); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := repo.UpdateAll(ctx, "t1", ids, func(p *pass.Pass) error {
		calls++
		if calls == 2 {
			// Another writer changes b between this load and the append.
			if err := repo.Update(ctx, "t1", "b", register(details("loyalty", "", "", "by", "other"))); err != nil {
				return err
			}
		}
		_, err := p.Register(details("loyalty", "", "", "by", "batch", "seen", strconv.Itoa(p.Version())))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls <= len(ids) {
		t.Errorf("update called %d times, want a second round after the conflict", calls)
	}
	stream := loadStream(t, events, "t1", "b")
	if len(stream) != 3 {
		t.Fatalf("b has %d events, want registration, the other writer's change and the batch's", len(stream))
	}
	decoded, _, err := pass.DecodeEvent(stream[2].Type, stream[2].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := decoded.(pass.DataChanged).Data; got["by"] != "batch" || got["seen"] != "2" {
		t.Errorf("the batch's change = %v, want it made on top of the other writer's (seen version 2)", got)
	}
}
