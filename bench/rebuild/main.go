// Command rebuild measures `passpush projections rebuild`: it seeds N events straight into the events table, in
// the format the pass repository stores (a PassRegistered per pass, then PassUpdateScheduled events), and times
// an online rebuild of every read model (passes, audit, apple_registrations) from them, printing events/s.
//
//	go run ./bench/rebuild -n 1000000                                   # SQLite file in a temp dir
//	go run ./bench/rebuild -n 1000000 -database-url postgres://…/db     # PostgreSQL (an empty database)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/storedpayload"
	"github.com/passpush/passpush/app/rebuild"
	"github.com/passpush/passpush/bench/internal/benchkit"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// Targets from the operations issue, on a 2-core machine.
const (
	targetPostgres = 50000
	targetSQLite   = 30000
)

type options struct {
	n           int
	perPass     int
	databaseURL string
	projection  string
	cpuProfile  string
	phases      bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000000, "events to seed and rebuild from")
	flag.IntVar(&o.perPass, "events-per-pass", 5, "events per pass: a PassRegistered, then journey updates")
	flag.StringVar(&o.databaseURL, "database-url", "", "an empty database (postgres://…), or sqlite:PATH; empty means a new SQLite file in a temp dir")
	flag.StringVar(&o.projection, "projection", "passes", "the projection rebuilt, as `passpush projections rebuild --projection` takes it")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the rebuild (not the seeding) to this file")
	flag.BoolVar(&o.phases, "phases", false, "print how long each phase of the rebuild took, and its events/s")
	flag.Parse()
	var invalid error
	if o.n < 1 || o.perPass < 1 {
		invalid = errors.New("-n and -events-per-pass must be at least 1")
	}
	benchkit.Main("bench/rebuild", invalid, 2*time.Hour, func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	if o.databaseURL == "" {
		dir, err := os.MkdirTemp("", "passpush-bench-rebuild-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.databaseURL = "sqlite:" + filepath.Join(dir, "passpush.db")
	}
	db, err := sqldb.Open(ctx, o.databaseURL, sqldb.Config{})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		return err
	}
	key, err := secretbox.ParseKey(secretbox.GenerateKeyText())
	if err != nil {
		return err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	svc, err := service.New(db, service.Config{Secrets: box}, logrus.NewEntry(log))
	if err != nil {
		return err
	}
	began := time.Now()
	if err := seed(ctx, db, o); err != nil {
		return err
	}
	benchkit.Logf("%s: seeded %d events in %s", db.Dialect.Name, o.n, benchkit.Secs(time.Since(began)))

	// The read models start empty: nothing ran on the seeded events.
	stop, err := benchkit.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	cpuBefore := benchkit.ProcessCPU()
	start := time.Now()
	report, err := svc.RebuildProjections(ctx, rebuild.Options{Projection: o.projection, Progress: phases(o.phases)})
	took := time.Since(start)
	if err := errors.Join(err, stop()); err != nil {
		return err
	}
	rate := float64(report.Events) / took.Seconds()
	target := float64(targetSQLite)
	if db.Dialect.Name == sqldb.Postgres.Name {
		target = targetPostgres
	}
	cpu := benchkit.ProcessCPU() - cpuBefore
	fmt.Printf("%s: rebuilt %v from %d events in %s: %.0f events/s (target %.0f); this process's CPU %s, %.1f µs an event\n",
		db.Dialect.Name, report.Projections, report.Events, benchkit.Secs(took), rate, target, benchkit.Secs(cpu),
		float64(cpu.Microseconds())/float64(max(report.Events, 1)))
	if rate < target {
		return benchkit.Missed{N: 1}
	}
	return nil
}

// seed inserts o.n events: passes of o.perPass events each, a PassRegistered and then PassUpdateScheduled, in
// multi-row inserts of a few thousand.
func seed(ctx context.Context, db *sqldb.DB, o options) error {
	const chunk = 2000
	var rows [][]any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := db.Dialect.ExecRows(ctx, tx, `INSERT INTO events (event_id, tenant_id, stream_id, stream_version, event_type, occurred_at, correlation_id, payload, packed_payload)`, ``, rows); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("seed events: %w", err)
		}
		rows = rows[:0]
		return tx.Commit()
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	for i := 0; i < o.n; i++ {
		p, v := i/o.perPass, i%o.perPass+1
		passID := fmt.Sprintf("p-%08d", p)
		var e pass.Event
		if v == 1 {
			e = pass.Registered{Details: pass.Details{PassType: "loyalty", Email: passID + "@example.com", CustomID: "c-" + passID,
				Data: map[string]string{"points": "0"}}, Revision: 1}
		} else {
			e = pass.UpdateScheduled{UpdateFromJourney: pass.UpdateFromJourney{JourneyID: "journey-1", ActivityID: "activity-1",
				DefinitionInstanceID: fmt.Sprintf("entry-%d", i), ContactKey: fmt.Sprintf("contact-%d", i), Fields: map[string]string{"points": fmt.Sprint(v)}},
				PassType: "loyalty", Revision: v, Data: map[string]string{"points": fmt.Sprint(v)}}
		}
		payload, err := json.Marshal(e)
		if err != nil {
			return err
		}
		// Stored as appends store it (migration 00022), so a rebuild pays the inflate it pays in service.
		packed, err := storedpayload.Encode(payload)
		if err != nil {
			return err
		}
		rows = append(rows, []any{uuid.Must(uuid.NewV7()).String(), "acme", "pass-" + passID, v, e.Name(),
			at.Add(time.Duration(i) * time.Microsecond), "", "", packed})
		if len(rows) == chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// phases returns a progress callback that prints each phase's time and events/s as the next begins, or nil.
func phases(on bool) func(rebuild.Progress) {
	if !on {
		return nil
	}
	var phase string
	var since time.Duration
	var done int64
	return func(p rebuild.Progress) {
		if p.Phase == phase {
			return
		}
		if phase != "" {
			took := p.Elapsed - since
			benchkit.Logf("phase %s: %d events in %s (%.0f events/s)", phase, p.Done-done, benchkit.Secs(took),
				float64(p.Done-done)/max(took.Seconds(), 1e-9))
		}
		phase, since, done = p.Phase, p.Elapsed, p.Done
	}
}
