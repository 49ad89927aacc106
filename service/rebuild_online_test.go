package service_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/rebuild"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// rebuilder is `passpush projections rebuild` beside the harness's serve: a second passpush on the same database
// that is built but not run, as the command line builds it.
func rebuilder(t *testing.T, h *harness) *service.Service {
	t.Helper()
	log := logrus.New()
	log.SetOutput(testWriter{t})
	cli, err := service.New(h.svc.DB, service.Config{Secrets: secretboxtest.New(t)}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestRebuild_whileServingExecuteCalls: Journey Builder keeps calling execute while every projection is rebuilt.
// No call fails; afterwards the read models are what a build from scratch gives (a dry run finds nothing), they
// hold the updates made during the rebuild, and every update is delivered exactly once.
func TestRebuild_whileServingExecuteCalls(t *testing.T) {
	const callPace = 50 * time.Millisecond // per worker: up to 80 calls/s from the four
	rcv := newReceiver(t, webhookSecret)
	h := startService(t, service.Config{})
	h.tenantWithWebhook("acme", rcv)
	// The rebuild's size is not the point: every phase waits below for execute calls answered while it runs, so
	// calls meet the fill, the catch-up and the swap whatever the count. 200 passes only made the rebuild, and the
	// calls it races with, longer.
	const passCount = 50
	var passes []command.RegisterPass
	for i := range passCount {
		passes = append(passes, loyaltyPass(fmt.Sprintf("p-%05d", i), "", ""))
	}
	h.importPasses("acme", passes)
	jb := newJourneyBuilder(h)
	var calls, failures atomic.Int64
	var mu sync.Mutex
	var failed []string
	var slowest time.Duration
	stop := make(chan struct{})
	var load sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				entry := fmt.Sprintf("w%d-%06d", w, i)
				body := jb.sign(jb.executeClaims(entry, in("passId", fmt.Sprintf("p-%05d", (w*7919+i*31)%passCount)), in("balance", entry)))
				began := time.Now()
				res, err := postSFMC(client, h.url, "acme", "execute", "application/jwt", body)
				took := time.Since(began)
				mu.Lock()
				slowest = max(slowest, took)
				if err != nil || res.status != http.StatusOK {
					failures.Add(1)
					failed = append(failed, fmt.Sprintf("%s: %v %d %s", entry, err, res.status, res.body))
				}
				mu.Unlock()
				calls.Add(1)
				// Paced, so the load is Journey Builder's steady calls rather than as many as the machine can
				// answer: flat out, the four workers' updates kept the catch-up busy and the test long, and
				// added nothing the phases' waits for calls below do not already ensure.
				select {
				case <-stop:
					return
				case <-time.After(callPace):
				}
			}
		}()
	}
	// Calls are answered in each phase: while the new tables fill, and between the catch-up and the swap.
	waitForCalls := func(n int64) {
		from := calls.Load()
		poll(t, 30*time.Second, 5*time.Millisecond, "execute calls", func() bool { return calls.Load() >= from+n })
	}
	waited := map[string]bool{}
	report, err := rebuilder(t, h).RebuildProjections(context.Background(), rebuild.Options{
		Projection: service.ProjectionsAll,
		Progress: func(p rebuild.Progress) {
			if !waited[p.Phase] {
				waited[p.Phase] = true
				waitForCalls(5)
			}
		},
	})
	during := calls.Load()
	waitForCalls(5)
	close(stop)
	load.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if failures.Load() > 0 {
		t.Fatalf("%d of %d execute calls failed during the rebuild:\n%s", failures.Load(), calls.Load(), strings.Join(failed[:min(5, len(failed))], "\n"))
	}
	t.Logf("%s: rebuilt %v with %d events in %s, requeued %d; %d execute calls meanwhile, the slowest took %s",
		h.svc.DB.Dialect.Name, report.Projections, report.Events, report.Took.Round(time.Millisecond), report.Requeued, during, slowest.Round(time.Millisecond))
	if !slices.Contains(report.Projections, service.ProjectionPasses) || report.Events < passCount {
		t.Fatalf("the rebuild did %+v", report)
	}
	wantLogged(t, h.svc.DB, "passes", "audit_log", "apple_registrations")
	wantPacked(t, h.svc.DB, "audit_log_event", "audit_log_tenant", "audit_log_journey", "audit_log_pass")
	wantPartialKey(t, h.svc.DB)
	wantTableOptions(t, h.svc.DB, "deliveries", "autovacuum_vacuum_scale_factor=0,autovacuum_vacuum_threshold=1000,fillfactor=50")

	h.settled(60 * time.Second)
	// Every pass shows its last update, made during the rebuild or after it.
	var stale int
	if err := h.svc.DB.QueryRowContext(context.Background(), `
		SELECT COUNT(*) FROM passes p WHERE p.stream_version <> (
			SELECT MAX(e.stream_version) FROM events e WHERE e.tenant_id = p.tenant_id AND e.stream_id = 'pass-' || p.pass_id
			  AND e.event_type IN ('PassRegistered', 'PassDataChanged', 'PassUpdateScheduled'))`).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if stale != 0 {
		t.Errorf("%d passes do not show their last update", stale)
	}
	// The last outcomes are in the store once settled, and reach the audit log when the projections take them.
	var audited, stored int
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := h.svc.DB.QueryRowContext(context.Background(), `SELECT (SELECT COUNT(*) FROM audit_log), (SELECT COUNT(*) FROM events)`).Scan(&audited, &stored); err != nil {
			t.Fatal(err)
		}
		if audited == stored || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if audited != stored {
		t.Errorf("the audit log holds %d events, the store %d", audited, stored)
	}
	rcv.mu.Lock()
	for id, n := range rcv.ok {
		if n > 1 {
			t.Errorf("update %s delivered %d times", id, n)
		}
	}
	rcv.mu.Unlock()
	wantNoDifferences(t, rebuilder(t, h))
}

// wantLogged checks that tables are crash-safe: a rebuild fills its PostgreSQL tables unlogged, and must log them
// before they take the live ones' place, or a crash of the server would empty the read models.
func wantLogged(t *testing.T, db *sqldb.DB, tables ...string) {
	t.Helper()
	if db.Dialect.Name != sqldb.Postgres.Name {
		return
	}
	for _, table := range tables {
		var persistence string
		if err := db.QueryRowContext(context.Background(), `SELECT relpersistence FROM pg_class WHERE oid = $1::regclass`, table).Scan(&persistence); err != nil {
			t.Fatal(err)
		}
		if persistence != "p" {
			t.Errorf("table %s has persistence %q after the rebuild, want p (logged)", table, persistence)
		}
	}
}

// wantPacked fails unless the indexes, on PostgreSQL, keep the fill factor of 100 that migration 00025 gave them:
// a rebuild's new table has its live one's index settings, those of its primary key included.
func wantPacked(t *testing.T, db *sqldb.DB, indexes ...string) {
	t.Helper()
	if db.Dialect.Name != sqldb.Postgres.Name {
		return
	}
	for _, index := range indexes {
		var options string
		if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = $1::regclass`, index).Scan(&options); err != nil {
			t.Fatal(err)
		}
		if options != "fillfactor=100" {
			t.Errorf("index %s has options %q after the rebuild, want fillfactor=100", index, options)
		}
	}
}

// wantPartialKey checks that the audit log's event id index is still unique and covers only the rows not
// archived (migration 00026) once a rebuild has swapped its table in: the projection's ON CONFLICT names it.
func wantPartialKey(t *testing.T, db *sqldb.DB) {
	t.Helper()
	if db.Dialect.Name != sqldb.Postgres.Name {
		return
	}
	var unique bool
	var predicate string
	if err := db.QueryRowContext(context.Background(), `SELECT i.indisunique, COALESCE(pg_get_expr(i.indpred, i.indrelid), '')
		FROM pg_index i WHERE i.indexrelid = 'audit_log_event'::regclass`).Scan(&unique, &predicate); err != nil {
		t.Fatal(err)
	}
	if !unique || predicate != "(NOT archived)" {
		t.Errorf("audit_log_event after the rebuild: unique %v, predicate %q; want unique, (NOT archived)", unique, predicate)
	}
}

// wantTableOptions fails unless table, on PostgreSQL, has the storage parameters options after the rebuild: the
// fill factor and autovacuum settings migrations 00020 and 00029 gave deliveries, which CREATE TABLE … (LIKE …)
// does not copy.
func wantTableOptions(t *testing.T, db *sqldb.DB, table, options string) {
	t.Helper()
	if db.Dialect.Name != sqldb.Postgres.Name {
		return
	}
	var got string
	if err := db.QueryRowContext(context.Background(), `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = $1::regclass`, table).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != options {
		t.Errorf("table %s has options %q after the rebuild, want %q", table, got, options)
	}
}

func wantNoDifferences(t *testing.T, s *service.Service) {
	t.Helper()
	report, err := s.RebuildProjections(context.Background(), rebuild.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != 3 {
		t.Fatalf("a dry run compared %d tables, want 3: %+v", len(report.Differences), report)
	}
	for _, d := range report.Differences {
		if !d.None() {
			t.Errorf("%s differs from a build from scratch: %+v", d.Table, d)
		}
	}
	if report.Requeued != 0 {
		t.Errorf("a dry run finds %d updates without an outcome that are not queued", report.Requeued)
	}
}

// TestRebuildDryRun_reportsATamperedReadModelAndChangesNothing: a dry run on good read models finds nothing; on
// tampered ones it finds each kind of difference, names the rows, and leaves the tables as they were.
func TestRebuildDryRun_reportsATamperedReadModelAndChangesNothing(t *testing.T) {
	rcv := newReceiver(t, webhookSecret)
	h := startService(t, service.Config{})
	h.tenantWithWebhook("acme", rcv)
	var passes []command.RegisterPass
	for i := range 20 {
		passes = append(passes, loyaltyPass(fmt.Sprintf("p-%05d", i), "", ""))
	}
	h.importPasses("acme", passes)
	jb := newJourneyBuilder(h)
	for i := range 5 {
		wantScheduled(t, jb.execute("acme", jb.sign(jb.executeClaims(fmt.Sprint("e", i), in("passId", "p-00003"), in("balance", i)))), 1)
	}
	h.settled(30 * time.Second)
	cli := rebuilder(t, h)
	wantNoDifferences(t, cli)

	ctx := context.Background()
	var audited string
	if err := h.svc.DB.QueryRowContext(ctx, `SELECT event_id FROM audit_log WHERE event_type = $1 ORDER BY position LIMIT 1`,
		auditrow.StoredType("PassUpdateScheduled")).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE passes SET data = '{"points":"999"}' WHERE pass_id = 'p-00003'`,
		`DELETE FROM audit_log WHERE event_id = '` + audited + `'`,
		`INSERT INTO apple_registrations (tenant_id, pass_id, device_library_id, pass_type_id, push_token, active, stream_version, updated_at)
			VALUES ('acme', 'p-00007', 'device-x', 'pass.example', 'token', TRUE, 1, CURRENT_TIMESTAMP)`,
	} {
		if _, err := h.svc.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	report, err := cli.RebuildProjections(ctx, rebuild.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rebuild.Difference{
		"passes":              {Table: "passes", Different: 1, DifferentKeys: []string{"acme/p-00003"}},
		"audit_log":           {Table: "audit_log", Missing: 1, MissingKeys: []string{audited}},
		"apple_registrations": {Table: "apple_registrations", Extra: 1, ExtraKeys: []string{"acme/p-00007/device-x"}},
	}
	for _, d := range report.Differences {
		if w := want[d.Table]; fmt.Sprint(d) != fmt.Sprint(w) {
			t.Errorf("dry run on %s: %+v, want %+v", d.Table, d, w)
		}
	}
	if len(report.Differences) != len(want) {
		t.Errorf("dry run compared %d tables, want %d", len(report.Differences), len(want))
	}
	var data string
	var missing, extra, scratch int
	if err := h.svc.DB.QueryRowContext(ctx, `SELECT
		(SELECT data FROM passes WHERE pass_id = 'p-00003'),
		(SELECT COUNT(*) FROM audit_log WHERE event_id = $1),
		(SELECT COUNT(*) FROM apple_registrations WHERE device_library_id = 'device-x')`, audited).Scan(&data, &missing, &extra); err != nil {
		t.Fatal(err)
	}
	if data != `{"points":"999"}` || missing != 0 || extra != 1 {
		t.Errorf("the dry run changed the live tables: data %s, audited %d, extra registrations %d", data, missing, extra)
	}
	q := `SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%dryrun%'`
	if h.svc.DB.Dialect.Name == "postgres" {
		q = `SELECT COUNT(*) FROM pg_class WHERE relname LIKE '%dryrun%'`
	}
	if err := h.svc.DB.QueryRowContext(ctx, q).Scan(&scratch); err != nil {
		t.Fatal(err)
	}
	if scratch != 0 {
		t.Errorf("the dry run left %d scratch tables, indexes or sequences", scratch)
	}
}
