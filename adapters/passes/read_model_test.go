package passes_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
)

// live is passpush on a fresh database with its buses running: events reach the read model the way they do in
// production, through the events topic and the passes projection's consumer group.
type live struct {
	*service.Service
	readModel *passes.ReadModel
}

func startService(t *testing.T) live {
	t.Helper()
	db := sqldbtest.New(t)
	svc, err := service.New(db, service.Config{Secrets: secretboxtest.New(t)}, contracttest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := svc.RunBus(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(contracttest.Timeout):
			t.Error("the bus did not stop")
		}
	})
	readModel, err := passes.NewReadModel(db)
	if err != nil {
		t.Fatal(err)
	}
	return live{Service: svc, readModel: readModel}
}

// register registers the pass and returns the stream version that holds the change (0 when nothing changed).
func (l live) register(t *testing.T, tenantID, passID string, d pass.Details) int {
	t.Helper()
	res, err := l.App.Commands.RegisterPass.Handle(context.Background(), command.RegisterPass{TenantID: tenantID, PassID: passID, Details: d})
	if err != nil {
		t.Fatalf("register %s/%s: %v", tenantID, passID, err)
	}
	return res.StreamVersion
}

// get waits until the read model has applied the stream version.
func (l live) get(t *testing.T, tenantID, passID string, minStreamVersion int) query.Pass {
	t.Helper()
	p, err := l.readModel.Get(contracttest.Context(t), tenantID, passID, minStreamVersion)
	if err != nil {
		t.Fatalf("get %s/%s at stream version %d: %v", tenantID, passID, minStreamVersion, err)
	}
	return p
}

func passIDs(ps []query.Pass) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.PassID
	}
	return out
}

func TestRegisterPass_reachesTheReadModelThroughTheBus(t *testing.T) {
	t.Parallel()
	l := startService(t)
	d := details("loyalty", "Alice@Example.com", "crm-1", "points", "10", "tier", "gold")
	v1 := l.register(t, "t1", "p1", d)
	if v1 != 1 {
		t.Fatalf("registration at stream version %d, want 1", v1)
	}
	got := l.get(t, "t1", "p1", v1)
	stream := loadStream(t, l.Events, "t1", "p1")
	want := query.Pass{PassID: "p1", PassType: "loyalty", Email: "Alice@Example.com", CustomID: "crm-1",
		Data: map[string]string{"points": "10", "tier": "gold"}, Version: 1, UpdatedAt: stream[0].OccurredAt}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read model after registration:\n got %+v\nwant %+v", got, want)
	}

	changed := details("coupon", "bob@example.com", "crm-2", "offer", "10%")
	v2 := l.register(t, "t1", "p1", changed)
	got = l.get(t, "t1", "p1", v2)
	stream = loadStream(t, l.Events, "t1", "p1")
	want = query.Pass{PassID: "p1", PassType: "coupon", Email: "bob@example.com", CustomID: "crm-2",
		Data: map[string]string{"offer": "10%"}, Version: 2, UpdatedAt: stream[1].OccurredAt}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read model after a change:\n got %+v\nwant %+v", got, want)
	}

	// The same details again change nothing, the version clients see included.
	if v := l.register(t, "t1", "p1", changed); v != 0 {
		t.Errorf("re-registration at stream version %d, want 0 (nothing changed)", v)
	}
	if again := l.get(t, "t1", "p1", v2); !reflect.DeepEqual(again, want) {
		t.Errorf("read model after a re-registration:\n got %+v\nwant %+v", again, want)
	}
}

func TestGet_waitsForTheMinimumStreamVersion(t *testing.T) {
	t.Parallel()
	l := startService(t)
	v1 := l.register(t, "t1", "p1", details("loyalty", "", "", "points", "1"))
	l.get(t, "t1", "p1", v1)

	type result struct {
		p   query.Pass
		err error
	}
	waiting := make(chan result, 2)
	ctx := contracttest.Context(t)
	go func() {
		p, err := l.readModel.Get(ctx, "t1", "p1", v1+1)
		waiting <- result{p, err}
	}()
	// A pass that does not exist yet is waited for too.
	go func() {
		p, err := l.readModel.Get(ctx, "t1", "p2", 1)
		waiting <- result{p, err}
	}()
	l.register(t, "t1", "p1", details("loyalty", "", "", "points", "2"))
	l.register(t, "t1", "p2", details("coupon", "", ""))
	for range 2 {
		r := <-waiting
		if r.err != nil {
			t.Fatal(r.err)
		}
		switch r.p.PassID {
		case "p1":
			if r.p.Data["points"] != "2" || r.p.Version != 2 {
				t.Errorf("Get returned %+v before the change it waited for", r.p)
			}
		case "p2":
			if r.p.PassType != "coupon" {
				t.Errorf("Get returned %+v", r.p)
			}
		}
	}
}

func TestGet_givesUpWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	l := startService(t)
	v := l.register(t, "t1", "p1", details("loyalty", "", ""))
	l.get(t, "t1", "p1", v)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := l.readModel.Get(ctx, "t1", "p1", v+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a version that never comes: err = %v, want context.DeadlineExceeded", err)
	}
	// Without a minimum it does not wait for a pass that is not there.
	if _, err := l.readModel.Get(context.Background(), "t1", "missing", 0); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("unknown pass: err = %v, want pass.ErrNotFound", err)
	}
}

func TestReadModel_isScopedToTenant(t *testing.T) {
	t.Parallel()
	l := startService(t)
	va := l.register(t, "tenant-a", "p1", details("loyalty", "shared@example.com", "c1", "owner", "a"))
	vb := l.register(t, "tenant-b", "p1", details("coupon", "shared@example.com", "c1", "owner", "b"))
	vonly := l.register(t, "tenant-a", "only-a", details("loyalty", "shared@example.com", "c1"))
	l.get(t, "tenant-a", "only-a", vonly)

	if p := l.get(t, "tenant-a", "p1", va); p.Data["owner"] != "a" || p.PassType != "loyalty" {
		t.Errorf("tenant-a sees %+v", p)
	}
	if p := l.get(t, "tenant-b", "p1", vb); p.Data["owner"] != "b" || p.PassType != "coupon" {
		t.Errorf("tenant-b sees %+v", p)
	}
	if _, err := l.readModel.Get(context.Background(), "tenant-b", "only-a", 0); !errors.Is(err, pass.ErrNotFound) {
		t.Errorf("tenant-b reads tenant-a's pass: err = %v, want pass.ErrNotFound", err)
	}
	for _, q := range []query.FindPasses{
		{Email: "shared@example.com"}, {CustomID: "c1"}, {PassType: "loyalty"}, {},
	} {
		q.TenantID, q.Limit = "tenant-b", 100
		found, err := l.readModel.Find(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range found {
			if p.PassID != "p1" || p.Data["owner"] != "b" {
				t.Errorf("Find(%+v) in tenant-b returned %+v", q, p)
			}
		}
	}
}

func TestFind_matchesEveryFilterGivenAndPages(t *testing.T) {
	t.Parallel()
	l := startService(t)
	seed := map[string]pass.Details{
		"p1": details("loyalty", "Alice@Example.com", "crm-1", "n", "1"),
		"p2": details("coupon", "alice@example.com", "crm-2", "n", "2"),
		"p3": details("loyalty", "bob@example.com", "crm-1", "n", "3"),
		"p4": details("loyalty", "ALICE@EXAMPLE.COM", "", "n", "4"),
		"p5": details("coupon", "", "crm-1", "n", "5"),
	}
	for _, id := range []string{"p3", "p1", "p5", "p2", "p4"} {
		l.get(t, "t1", id, l.register(t, "t1", id, seed[id]))
	}
	l.get(t, "other", "p9", l.register(t, "other", "p9", details("loyalty", "alice@example.com", "crm-1")))

	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    query.FindPasses
		want []string
	}{
		{"email, any case", query.FindPasses{Email: "aLiCe@example.COM"}, []string{"p1", "p2", "p4"}},
		{"email with spaces", query.FindPasses{Email: "  bob@example.com "}, []string{"p3"}},
		{"customId", query.FindPasses{CustomID: "crm-1"}, []string{"p1", "p3", "p5"}},
		{"customId is exact", query.FindPasses{CustomID: "CRM-1"}, []string{}},
		{"passType", query.FindPasses{PassType: "coupon"}, []string{"p2", "p5"}},
		{"email and passType", query.FindPasses{Email: "alice@example.com", PassType: "loyalty"}, []string{"p1", "p4"}},
		{"all three", query.FindPasses{Email: "alice@example.com", PassType: "loyalty", CustomID: "crm-1"}, []string{"p1"}},
		{"no match", query.FindPasses{Email: "nobody@example.com"}, []string{}},
		{"no filter", query.FindPasses{}, []string{"p1", "p2", "p3", "p4", "p5"}},
		{"first page", query.FindPasses{Limit: 2}, []string{"p1", "p2"}},
		{"next page", query.FindPasses{After: "p2", Limit: 2}, []string{"p3", "p4"}},
		{"last page", query.FindPasses{After: "p4", Limit: 2}, []string{"p5"}},
		{"past the end", query.FindPasses{After: "p5", Limit: 2}, []string{}},
		{"filtered page", query.FindPasses{CustomID: "crm-1", After: "p1", Limit: 1}, []string{"p3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.TenantID = "t1"
			found, err := l.App.Queries.FindPasses.Handle(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if found == nil {
				t.Error("Find returned nil, want an empty list so the API answers []")
			}
			if got := passIDs(found); !slices.Equal(got, tc.want) {
				t.Errorf("found %v, want %v", got, tc.want)
			}
		})
	}

	// Find returns whole passes, as Get does.
	found, err := l.readModel.Find(ctx, query.FindPasses{TenantID: "t1", CustomID: "crm-2", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || !reflect.DeepEqual(found[0], l.get(t, "t1", "p2", 1)) {
		t.Errorf("Find = %+v, want what Get returns", found)
	}
	// The read model itself expects a lower-case email: the stored column is folded.
	found, err = l.readModel.Find(ctx, query.FindPasses{TenantID: "t1", Email: "alice@example.com", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := passIDs(found); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Errorf("read model Find by email = %v", got)
	}
}

// TestMatch_concurrentCallsOfManyTenantsEachGetTheirOwnPasses: calls made at once are matched together, yet each
// gets exactly what it would get alone: its tenant's passes, by its most specific identifier, narrowed by type.
func TestMatch_concurrentCallsOfManyTenantsEachGetTheirOwnPasses(t *testing.T) {
	t.Parallel()
	l := startService(t)
	var last int
	for _, tenantID := range []string{"t1", "t2"} {
		l.register(t, tenantID, "p1", details("loyalty", "Shared@Example.com", "c1"))
		l.register(t, tenantID, "p2", details("coupon", "shared@example.com", "c2"))
		last = l.register(t, tenantID, "p3-"+tenantID, details("loyalty", "other@example.com", "c1"))
	}
	l.get(t, "t2", "p3-t2", last)

	cases := []struct {
		tenantID string
		match    command.PassMatch
		want     []string
	}{
		{"t1", command.PassMatch{PassID: "p1"}, []string{"p1"}},
		{"t2", command.PassMatch{PassID: "p3-t1"}, nil},
		{"t1", command.PassMatch{PassID: "p2", PassType: "loyalty"}, nil},
		{"t1", command.PassMatch{PassID: "p2", Email: "other@example.com"}, []string{"p2"}},
		{"t1", command.PassMatch{CustomID: "c1"}, []string{"p1", "p3-t1"}},
		{"t2", command.PassMatch{CustomID: "c1", PassType: "loyalty"}, []string{"p1", "p3-t2"}},
		{"t2", command.PassMatch{CustomID: "c2", Email: "other@example.com"}, []string{"p2"}},
		{"t1", command.PassMatch{Email: " SHARED@example.COM "}, []string{"p1", "p2"}},
		{"t2", command.PassMatch{Email: "shared@example.com", PassType: "coupon"}, []string{"p2"}},
		{"t3", command.PassMatch{Email: "shared@example.com"}, nil},
	}
	const rounds = 20
	var wg sync.WaitGroup
	errs := make(chan error, rounds*len(cases))
	for range rounds {
		for _, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := l.readModel.Match(context.Background(), c.tenantID, c.match)
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(got, c.want) {
					errs <- fmt.Errorf("%s %+v matched %v, want %v", c.tenantID, c.match, got, c.want)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// MatchAppleInstalled reads, with the match, whether a device is registered for each pass: only an active
// registration of the pass in its own tenant counts, and concurrent calls of both kinds, grouped into the same
// queries, each get their own answer.
func TestMatchAppleInstalled_saysWhichPassesADeviceHolds(t *testing.T) {
	t.Parallel()
	l := startService(t)
	var last int
	for _, tenantID := range []string{"t1", "t2"} {
		l.register(t, tenantID, "p1", details("loyalty", "shared@example.com", "c1"))
		l.register(t, tenantID, "p2", details("loyalty", "shared@example.com", "c2"))
		last = l.register(t, tenantID, "p3", details("coupon", "other@example.com", "c3"))
	}
	l.get(t, "t2", "p3", last)
	for _, r := range []struct {
		tenantID, passID, device string
		active                   bool
	}{
		{"t1", "p2", "dev-a", true}, {"t1", "p2", "dev-b", false}, // p2 of t1: one active device of two
		{"t1", "p3", "dev-c", false}, // p3 of t1: its one device unregistered
		{"t2", "p1", "dev-d", true},  // p1 of t2 only: the same id in t1 has none
	} {
		if _, err := l.DB.ExecContext(context.Background(), `INSERT INTO apple_registrations
			(tenant_id, pass_id, device_library_id, pass_type_id, push_token, active, stream_version, updated_at)
			VALUES ('`+r.tenantID+`', '`+r.passID+`', '`+r.device+`', 'pass.example', 'token', `+fmt.Sprint(r.active)+`, 1, CURRENT_TIMESTAMP)`); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		tenantID string
		match    command.PassMatch
		want     []command.MatchedPass
	}{
		{"t1", command.PassMatch{Email: "shared@example.com"}, []command.MatchedPass{{PassID: "p1"}, {PassID: "p2", AppleInstalled: true}}},
		{"t2", command.PassMatch{Email: "shared@example.com"}, []command.MatchedPass{{PassID: "p1", AppleInstalled: true}, {PassID: "p2"}}},
		{"t1", command.PassMatch{PassID: "p3"}, []command.MatchedPass{{PassID: "p3"}}},
		{"t2", command.PassMatch{CustomID: "c1"}, []command.MatchedPass{{PassID: "p1", AppleInstalled: true}}},
		{"t1", command.PassMatch{Email: "shared@example.com", PassType: "coupon"}, nil},
		{"t3", command.PassMatch{PassID: "p1"}, nil},
	}
	const rounds = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds*len(cases))
	for range rounds {
		for _, c := range cases {
			wg.Add(2)
			go func() {
				defer wg.Done()
				got, err := l.readModel.MatchAppleInstalled(context.Background(), c.tenantID, c.match)
				if err != nil {
					errs <- err
					return
				}
				if !slices.Equal(got, c.want) {
					errs <- fmt.Errorf("%s %+v matched %+v, want %+v", c.tenantID, c.match, got, c.want)
				}
			}()
			// Match, grouped with them, answers the same passes.
			go func() {
				defer wg.Done()
				got, err := l.readModel.Match(context.Background(), c.tenantID, c.match)
				if err != nil {
					errs <- err
					return
				}
				var want []string
				for _, p := range c.want {
					want = append(want, p.PassID)
				}
				if !slices.Equal(got, want) {
					errs <- fmt.Errorf("Match %s %+v = %v, want %v", c.tenantID, c.match, got, want)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
