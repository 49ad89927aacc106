// Command retention measures how many bytes of PostgreSQL each journey update costs: right after the load, while
// serving (messages kept for the retention, dead rows vacuumed as serve and autovacuum do), once the acknowledged
// messages are pruned, and once the events are archived. It
// schedules N updates the way execute does (the command bus, then the handler, the projections and the delivery
// stage to a local webhook), waits until every one is delivered, and prints every table's size with its indexes
// and TOAST, per update.
//
//	go run ./bench/retention -database-url 'postgres://postgres@127.0.0.1:5432/passpush_retention?sslmode=disable' -n 100000
//
// The database must be new (the command creates it if it is missing, and drops it at the end unless -keep).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/passpush/passpush/adapters/messaging"
	"github.com/passpush/passpush/adapters/webhook/webhooktest"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/service"
)

type options struct {
	databaseURL string
	n, passes   int
	concurrency int
	keep        bool
}

func main() {
	var o options
	flag.StringVar(&o.databaseURL, "database-url", "", "a PostgreSQL database of its own, postgres://…/NAME (created if missing)")
	flag.IntVar(&o.n, "n", 100000, "journey updates to schedule")
	flag.IntVar(&o.passes, "passes", 10000, "passes the updates are spread over")
	flag.IntVar(&o.concurrency, "concurrency", 32, "updates scheduled at once, as concurrent execute calls")
	flag.BoolVar(&o.keep, "keep", false, "keep the database at the end")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/retention:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if !strings.HasPrefix(o.databaseURL, "postgres") {
		return errors.New("-database-url must be a PostgreSQL database: the figures are PostgreSQL's")
	}
	dropDB, err := createDatabase(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	if !o.keep {
		defer dropDB()
	}
	dir, err := os.MkdirTemp("", "passpush-retention-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer receiver.Close()

	s, err := benchkit.StartService(ctx, benchkit.ServiceOptions{
		DatabaseURL: o.databaseURL, Dir: dir, RequireFresh: true,
		Config: func(string) service.Config {
			// Messages are kept an hour, as serve keeps them by default; the bench prunes them itself below.
			return service.Config{Webhook: webhooktest.LocalConfig(),
				Retention: messaging.RetentionConfig{Retention: time.Hour, Interval: time.Hour}}
		},
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	app := s.Svc.App
	webhookURL, secret := receiver.URL, "whsec-bench"
	if _, _, err := app.Commands.SaveTenant.Handle(ctx, command.SaveTenant{TenantID: "acme", Mode: command.CreateOnly,
		Changes: tenant.Changes{SFMCSigningSecrets: []string{"sfmc-secret-of-acme"}, WebhookURL: &webhookURL, WebhookSecret: &secret}}); err != nil {
		return fmt.Errorf("add tenant: %w", err)
	}
	if err := importPasses(ctx, s, o.passes); err != nil {
		return err
	}
	base, err := sizes(ctx, s)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := schedule(ctx, s, o); err != nil {
		return err
	}
	if err := waitDelivered(ctx, s, o.n); err != nil {
		return err
	}
	fmt.Printf("scheduled and delivered %d updates over %d passes in %s\n\n", o.n, o.passes, time.Since(start).Round(time.Second))
	loaded, err := sizes(ctx, s)
	if err != nil {
		return err
	}
	// Serving: what serve's housekeeping (the delivery queue's vacuum) and autovacuum leave, messages still kept
	// for the retention. A plain VACUUM stands in for autovacuum, whose next round the bench does not wait for: it
	// makes the dead rows' space reusable, and gives back only the empty pages at a table's end.
	if err := s.Svc.Deliveries.Vacuum(ctx); err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, `VACUUM`); err != nil {
		return err
	}
	serving, err := sizes(ctx, s)
	if err != nil {
		return err
	}

	// Pruning as serve does it, with every acknowledged message past the retention.
	if _, err := s.DB.ExecContext(ctx, `UPDATE watermill_events SET created_at = created_at - interval '2 hours'`); err != nil {
		return err
	}
	for _, t := range []string{"watermill_commands", "watermill_commands_1", "watermill_commands_2", "watermill_commands_3"} {
		if _, err := s.DB.ExecContext(ctx, `UPDATE `+t+` SET created_at = created_at - interval '2 hours'`); err != nil {
			return err
		}
	}
	pruned, err := s.Svc.PruneMessages(ctx)
	if err != nil {
		return err
	}
	// The space pruning frees is reused by the next messages; VACUUM FULL shows what the rows left take.
	afterPrune, err := compact(ctx, s)
	if err != nil {
		return err
	}

	archive := filepath.Join(dir, "events.jsonl.gz")
	// What the archive writes shows in the write-ahead log (the cluster's: another database's writes meanwhile
	// count too), which a loaded machine does not change, where its time it does.
	walBefore, err := walPosition(ctx, s)
	if err != nil {
		return err
	}
	archiveStart := time.Now()
	res, err := s.Svc.ArchiveEvents(ctx, time.Now().Add(time.Minute), archive)
	if err != nil {
		return err
	}
	archiveTook := time.Since(archiveStart)
	walAfter, err := walPosition(ctx, s)
	if err != nil {
		return err
	}
	afterArchive, err := compact(ctx, s)
	if err != nil {
		return err
	}
	info, err := os.Stat(archive)
	if err != nil {
		return err
	}
	fmt.Printf("pruned %d messages; archived %d events (deleted %d) to a %d-byte file (%.0f bytes/update)\n\n", pruned, res.Archived, res.Deleted, info.Size(), float64(info.Size())/float64(o.n))
	fmt.Printf("the archive took %s and wrote %d bytes of WAL (%.0f bytes/update)\n\n", archiveTook.Round(time.Millisecond), walAfter-walBefore,
		float64(walAfter-walBefore)/float64(o.n))
	report(o.n, base, loaded, serving, afterPrune, afterArchive)
	return nil
}

// walPosition is the cluster's write-ahead log position, in bytes.
func walPosition(ctx context.Context, s *benchkit.Service) (int64, error) {
	var lsn int64
	if err := s.Svc.DB.QueryRowContext(ctx, `SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS BIGINT)`).Scan(&lsn); err != nil {
		return 0, fmt.Errorf("read the WAL position: %w", err)
	}
	return lsn, nil
}

// compact runs VACUUM FULL and returns the sizes it leaves. serve still runs, and a row deleted while one of its
// transactions was open is copied as it is: it runs again, a few times at most, while that shrinks the database.
func compact(ctx context.Context, s *benchkit.Service) (map[string]int64, error) {
	var last map[string]int64
	for range 4 {
		if _, err := s.DB.ExecContext(ctx, `VACUUM FULL`); err != nil {
			return nil, err
		}
		now, err := sizes(ctx, s)
		if err != nil {
			return nil, err
		}
		if last != nil && now["(database)"] >= last["(database)"] {
			return now, nil
		}
		last = now
	}
	return last, nil
}

// createDatabase creates the URL's database and returns how to drop it.
func createDatabase(ctx context.Context, databaseURL string) (drop func(), err error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil, errors.New("-database-url must name a database of the bench's own, not postgres")
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return nil, err
	}
	ident := pgx.Identifier{name}.Sanitize()
	_, _ = conn.Exec(ctx, `CREATE DATABASE `+ident)
	return func() {
		_, _ = conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`)
		_ = conn.Close(context.Background())
	}, nil
}

func importPasses(ctx context.Context, s *benchkit.Service, n int) error {
	for start := 0; start < n; start += 1000 {
		batch := make([]command.RegisterPass, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			batch = append(batch, command.RegisterPass{PassID: fmt.Sprintf("pass-%06d", i),
				Details: pass.Details{PassType: "loyalty", Email: fmt.Sprintf("owner%06d@example.com", i), Data: map[string]string{"points": "0", "tier": "silver"}}})
		}
		if _, err := s.Svc.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: "acme", Passes: batch}); err != nil {
			return fmt.Errorf("import passes: %w", err)
		}
	}
	return waitFor(ctx, "the passes read model", func() (bool, error) {
		got, err := s.Count(ctx, `SELECT COUNT(*) FROM passes`)
		return got == n, err
	})
}

// schedule makes n execute-like calls, concurrency at a time: each updates one pass's points and offer.
func schedule(ctx context.Context, s *benchkit.Service, o options) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.concurrency)
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.n || ctx.Err() != nil {
					return
				}
				_, err := s.Svc.App.Commands.ScheduleFromJourney.Handle(ctx, command.ScheduleFromJourney{TenantID: "acme",
					Match: command.PassMatch{PassID: fmt.Sprintf("pass-%06d", i%o.passes)},
					Update: pass.UpdateFromJourney{JourneyID: "journey-1", ActivityID: "activity-1",
						DefinitionInstanceID: fmt.Sprintf("entry-%08d", i), ContactKey: fmt.Sprintf("contact-%06d", i%o.passes),
						Fields: map[string]string{"points": fmt.Sprint(i), "offer": "10% off this week"}}})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func waitDelivered(ctx context.Context, s *benchkit.Service, n int) error {
	return waitFor(ctx, "every update's delivery", func() (bool, error) {
		delivered, err := s.Count(ctx, `SELECT COUNT(*) FROM events WHERE event_type IN ('PushUpdateEmitted', 'PushUpdateFailed')`)
		if err != nil || delivered < n {
			return false, err
		}
		events, err := s.Count(ctx, `SELECT COUNT(*) FROM events`)
		if err != nil {
			return false, err
		}
		audited, err := s.Count(ctx, `SELECT COUNT(*) FROM audit_log`)
		return audited == events, err
	})
}

func waitFor(ctx context.Context, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sizes returns every table's size with its indexes and TOAST, and the database's under "(database)".
func sizes(ctx context.Context, s *benchkit.Service) (map[string]int64, error) {
	rows, err := s.DB.QueryContext(ctx, `
		SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r'
		UNION ALL SELECT '(database)', pg_database_size(current_database())`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return nil, err
		}
		out[name] = size
	}
	return out, rows.Err()
}

// report prints, per table, the bytes per update each stage added to what the database held before the load.
func report(n int, base map[string]int64, stages ...map[string]int64) {
	last := stages[0]
	names := make([]string, 0, len(last))
	for name := range last {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return last[names[i]]-base[names[i]] > last[names[j]]-base[names[j]] })
	per := func(m map[string]int64, name string) float64 { return float64(m[name]-base[name]) / float64(n) }
	fmt.Printf("%-32s %12s %12s %12s %12s\n", "bytes per update", "loaded", "serving", "pruned", "archived")
	total := make([]float64, len(stages))
	for _, name := range names {
		if name == "(database)" {
			continue
		}
		line, zero := fmt.Sprintf("%-32s", name), true
		for i, stage := range stages {
			v := per(stage, name)
			total[i] += v
			line += fmt.Sprintf(" %12.0f", v)
			zero = zero && v == 0
		}
		if !zero {
			fmt.Println(line)
		}
	}
	line, db := fmt.Sprintf("%-32s", "all tables"), fmt.Sprintf("%-32s", "pg_database_size")
	for i, stage := range stages {
		line += fmt.Sprintf(" %12.0f", total[i])
		db += fmt.Sprintf(" %12.0f", per(stage, "(database)"))
	}
	fmt.Println(line)
	fmt.Println(db)
}
