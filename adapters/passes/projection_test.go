package passes_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/app/rebuild"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
)

// passRow is a whole row of the passes table.
type passRow struct {
	TenantID, PassID, PassType, Email, EmailLower, CustomID, Data string
	Version, StreamVersion                                        int
	UpdatedAt                                                     string
}

func readModelRows(t *testing.T, db *sqldb.DB) []passRow {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT tenant_id, pass_id, pass_type, email, email_lower, custom_id,
		data, version, stream_version, updated_at FROM passes ORDER BY tenant_id, pass_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []passRow
	for rows.Next() {
		var r passRow
		var updatedAt time.Time
		if err := rows.Scan(&r.TenantID, &r.PassID, &r.PassType, &r.Email, &r.EmailLower, &r.CustomID, &r.Data,
			&r.Version, &r.StreamVersion, &updatedAt); err != nil {
			t.Fatal(err)
		}
		r.UpdatedAt = updatedAt.UTC().Format(time.RFC3339Nano)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRebuild_producesTheLiveReadModel(t *testing.T) {
	t.Parallel()
	l := startService(t)
	ctx := context.Background()
	last := map[[2]string]int{}
	reg := func(tenantID, passID string, d pass.Details) {
		if v := l.register(t, tenantID, passID, d); v != 0 {
			last[[2]string{tenantID, passID}] = v
		}
	}
	reg("t1", "p1", details("loyalty", "Alice@Example.com", "c1", "points", "1"))
	reg("t1", "p2", details("coupon", "bob@example.com", "", "offer", "5%"))
	reg("t1", "p1", details("loyalty", "Alice@Example.com", "c1", "points", "2"))
	reg("t2", "p1", details("loyalty", "carol@example.com", "c9"))
	reg("t1", "p2", details("coupon", "bob@example.com", "", "offer", "5%")) // unchanged: no event
	reg("t1", "p3", details("loyalty", "", "c3"))
	// Events the passes projection does not show: another stream, and an unknown type inside a pass's stream.
	if _, err := l.Events.Append(ctx, []eventstore.Event{
		{TenantID: "t1", StreamID: "tenant-t1", Version: 1, Type: "SomethingElse", Payload: []byte(`{}`)},
		{TenantID: "t1", StreamID: passes.StreamID("p3"), Version: 2, Type: "PassArchivedInAFutureVersion", Payload: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	reg("t1", "p3", details("loyalty", "", "c3", "tier", "gold"))
	reg("t1", "p1", details("loyalty", "alice@example.com", "c1", "points", "3"))
	var imported []command.RegisterPass
	for i := range 30 {
		imported = append(imported, command.RegisterPass{PassID: fmt.Sprintf("imp-%02d", i),
			Details: details("loyalty", fmt.Sprintf("u%d@example.com", i), "", "n", fmt.Sprint(i))})
	}
	res, err := l.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: "t2", Passes: imported})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != len(imported) {
		t.Fatalf("import created %d passes, want %d", res.Created, len(imported))
	}
	for _, p := range imported {
		last[[2]string{"t2", p.PassID}] = 1
	}
	for k, v := range last {
		l.get(t, k[0], k[1], v)
	}

	liveRows := readModelRows(t, l.DB)
	if len(liveRows) != 4+len(imported) {
		t.Fatalf("live read model has %d rows, want %d", len(liveRows), 4+len(imported))
	}
	if _, err := l.RebuildProjections(ctx, rebuild.Options{}); err != nil {
		t.Fatal(err)
	}
	rebuilt := readModelRows(t, l.DB)
	if !reflect.DeepEqual(rebuilt, liveRows) {
		for i := range max(len(rebuilt), len(liveRows)) {
			var r, w passRow
			if i < len(rebuilt) {
				r = rebuilt[i]
			}
			if i < len(liveRows) {
				w = liveRows[i]
			}
			if r != w {
				t.Errorf("row %d:\nrebuilt %+v\n   live %+v", i, r, w)
			}
		}
	}

	// The live projection carries on from the rebuilt rows.
	v := l.register(t, "t1", "p1", details("loyalty", "alice@example.com", "c1", "points", "4"))
	if p := l.get(t, "t1", "p1", v); p.Version != 4 || p.Data["points"] != "4" {
		t.Errorf("after the rebuild a change shows as %+v, want version 4", p)
	}
}

func TestProjection_redeliveredEventChangesNothing(t *testing.T) {
	t.Parallel()
	db, events, repo := newRepository(t)
	ctx := context.Background()
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "a@example.com", "c1", "points", "1"))); err != nil {
		t.Fatal(err)
	}
	if err := repo.Update(ctx, "t1", "p1", register(details("loyalty", "a@example.com", "c1", "points", "2"))); err != nil {
		t.Fatal(err)
	}
	stream := loadStream(t, events, "t1", "p1")
	projection, err := passes.NewProjection(db)
	if err != nil {
		t.Fatal(err)
	}
	handle := func(e eventstore.Event) {
		t.Helper()
		if err := projection.Handle(ctx, []eventstore.Event{e}); err != nil {
			t.Fatal(err)
		}
	}

	handle(stream[0])
	afterFirst := readModelRows(t, db)
	handle(stream[0])
	if got := readModelRows(t, db); !reflect.DeepEqual(got, afterFirst) {
		t.Errorf("redelivered registration changed the row:\n got %+v\nwant %+v", got, afterFirst)
	}

	handle(stream[1])
	afterSecond := readModelRows(t, db)
	if len(afterSecond) != 1 || afterSecond[0].Version != 2 || afterSecond[0].StreamVersion != 2 {
		t.Fatalf("after the change: %+v", afterSecond)
	}
	handle(stream[1])
	handle(stream[0]) // an older event arriving late, as from a rebuild running beside the live projection
	if got := readModelRows(t, db); !reflect.DeepEqual(got, afterSecond) {
		t.Errorf("redelivered events changed the row:\n got %+v\nwant %+v", got, afterSecond)
	}
}

// TestProjection_aBatchEndsAsOneEventAtATime: a batch holding several events of one pass (registered, changed,
// updated by a journey, registered again) among other passes' events leaves the same rows as the events handled
// one by one, and replaying the batch changes nothing.
func TestProjection_aBatchEndsAsOneEventAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	build := func(t *testing.T) (*sqldb.DB, *passes.Projection, []eventstore.Event) {
		db, events, repo := newRepository(t)
		steps := []struct {
			passID string
			update func(p *pass.Pass) error
		}{
			{"p1", register(details("loyalty", "A@example.com", "c1", "points", "1"))},
			{"p2", register(details("coupon", "b@example.com", "", "offer", "5%"))},
			{"p1", register(details("loyalty", "a@example.com", "c1", "points", "2"))},
			{"p1", func(p *pass.Pass) error {
				_, err := p.ScheduleUpdate(pass.UpdateFromJourney{ActivityID: "a", DefinitionInstanceID: "d1", Fields: map[string]string{"offer": "10%"}})
				return err
			}},
			{"p2", register(details("coupon", "b@example.com", "", "offer", "6%"))},
			{"p1", register(details("loyalty", "a@example.com", "c1", "points", "3", "offer", "10%"))},
		}
		for _, s := range steps {
			if err := repo.Update(ctx, "t1", s.passID, s.update); err != nil {
				t.Fatal(err)
			}
		}
		// Each would wait for every running transaction of the server; the streams are all there is here.
		all := slices.Concat(loadStream(t, events, "t1", "p1"), loadStream(t, events, "t1", "p2"))
		slices.SortFunc(all, func(a, b eventstore.Event) int {
			if a.Position.After(b.Position) {
				return 1
			}
			return -1
		})
		if len(all) != len(steps) {
			t.Fatalf("%d events stored, want %d", len(all), len(steps))
		}
		projection, err := passes.NewProjection(db)
		if err != nil {
			t.Fatal(err)
		}
		return db, projection, all
	}

	oneDB, one, all := build(t)
	for _, e := range all {
		if err := one.Handle(ctx, []eventstore.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	batchDB, batch, all := build(t)
	for range 2 {
		if err := batch.Handle(ctx, all); err != nil {
			t.Fatal(err)
		}
	}
	want, got := readModelRows(t, oneDB), readModelRows(t, batchDB)
	if len(want) != 2 || want[0].Version != 4 || want[0].StreamVersion != 4 {
		t.Fatalf("one at a time: %+v, want p1 at version 4 and p2", want)
	}
	for i := range want {
		// The two databases stored the events at different times.
		want[i].UpdatedAt, got[i].UpdatedAt = "", ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("batched:\n got %+v\nwant %+v", got, want)
	}
}

func TestProjection_skipsEventsItDoesNotShow(t *testing.T) {
	t.Parallel()
	db := newProjectionDB(t)
	projection, err := passes.NewProjection(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []eventstore.Event{
		{TenantID: "t1", StreamID: "tenant-t1", Version: 1, Type: "PassRegistered", Payload: []byte(`{"passType":"x"}`)},
		{TenantID: "t1", StreamID: passes.StreamID("p1"), Version: 1, Type: "PassArchivedInAFutureVersion", Payload: []byte(`garbage`)},
	} {
		if err := projection.Handle(context.Background(), []eventstore.Event{e}); err != nil {
			t.Errorf("%s on %s: %v", e.Type, e.StreamID, err)
		}
	}
	if rows := readModelRows(t, db); len(rows) != 0 {
		t.Errorf("read model = %+v, want empty", rows)
	}
	// A pass event it cannot decode is an error, so the bus retries and then parks it instead of losing it.
	bad := eventstore.Event{TenantID: "t1", StreamID: passes.StreamID("p1"), Version: 1, Type: "PassRegistered", Payload: []byte(`{`)}
	if err := projection.Handle(context.Background(), []eventstore.Event{bad}); err == nil {
		t.Error("an undecodable PassRegistered was accepted")
	}
	if n := contracttest.Count(t, db, `SELECT count(*) FROM passes`); n != 0 {
		t.Errorf("%d rows after a bad event", n)
	}
}

func newProjectionDB(t *testing.T) *sqldb.DB {
	t.Helper()
	db, _, _ := newRepository(t)
	return db
}
