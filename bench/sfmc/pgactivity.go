package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

// pgActivity samples pg_stat_activity of the benchmark's database (-pg-activity): what the service's
// connections are doing, and how old the oldest open transaction is. Long transactions matter twice here:
// watermill-sql's subscribers only see messages of transactions older than every running one
// (pg_snapshot_xmin), so one long transaction holds back every consumer group.
type pgActivity struct {
	samples   int
	states    map[string]int // "state: query" → samples
	oldestTx  []time.Duration
	xminHeld  []time.Duration // age of the transaction that holds the oldest xmin back
	connCount int
	err       error
}

func samplePGActivity(ctx context.Context, databaseURL string, every time.Duration) (stop func() *pgActivity) {
	a := &pgActivity{states: map[string]int{}}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	db, err := sqldb.Open(ctx, databaseURL, sqldb.Config{})
	if err != nil {
		a.err = err
		cancel()
		return func() *pgActivity { return a }
	}
	db.SetMaxOpenConns(1)
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := a.sample(ctx, db.DB); err != nil && ctx.Err() == nil {
				a.err = err
				return
			}
		}
	})
	return func() *pgActivity {
		cancel()
		wg.Wait()
		_ = db.Close()
		return a
	}
}

func (a *pgActivity) sample(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `
		SELECT COALESCE(state, ''), COALESCE(wait_event_type, ''), COALESCE(wait_event, ''), left(regexp_replace(query, '\s+', ' ', 'g'), 90),
		       COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)::float8, -1), backend_xmin IS NOT NULL OR backend_xid IS NOT NULL
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var oldest, oldestWithXid float64
	n := 0
	for rows.Next() {
		var state, waitType, wait, query string
		var age float64
		var holds bool
		if err := rows.Scan(&state, &waitType, &wait, &query, &age, &holds); err != nil {
			return err
		}
		n++
		if state == "idle" || state == "" {
			continue
		}
		key := state
		if waitType != "" && state == "active" {
			key += " (wait " + waitType + "/" + wait + ")"
		}
		a.states[key+": "+query]++
		oldest = max(oldest, age)
		if holds {
			oldestWithXid = max(oldestWithXid, age)
		}
	}
	a.samples++
	a.connCount = max(a.connCount, n)
	a.oldestTx = append(a.oldestTx, time.Duration(oldest*float64(time.Second)))
	a.xminHeld = append(a.xminHeld, time.Duration(oldestWithXid*float64(time.Second)))
	return rows.Err()
}

func (a *pgActivity) print(w io.Writer) {
	if a == nil {
		return
	}
	if a.err != nil {
		fmt.Fprintf(w, "pg_stat_activity: %v\n\n", a.err)
	}
	if a.samples == 0 {
		return
	}
	sort.Slice(a.oldestTx, func(i, j int) bool { return a.oldestTx[i] < a.oldestTx[j] })
	sort.Slice(a.xminHeld, func(i, j int) bool { return a.xminHeld[i] < a.xminHeld[j] })
	fmt.Fprintf(w, "pg_stat_activity, %d samples during execute and delivery (up to %d connections of this database):\n", a.samples, a.connCount)
	fmt.Fprintf(w, "  oldest open transaction: p50 %s, p95 %s, max %s; oldest holding an xid/xmin: p50 %s, p95 %s, max %s\n",
		benchkit.Millis(benchkit.Percentile(a.oldestTx, .5), 1), benchkit.Millis(benchkit.Percentile(a.oldestTx, .95), 1), benchkit.Millis(benchkit.Percentile(a.oldestTx, 1), 1),
		benchkit.Millis(benchkit.Percentile(a.xminHeld, .5), 1), benchkit.Millis(benchkit.Percentile(a.xminHeld, .95), 1), benchkit.Millis(benchkit.Percentile(a.xminHeld, 1), 1))
	type kv struct {
		k string
		n int
	}
	var top []kv
	total := 0
	for k, n := range a.states {
		top = append(top, kv{k, n})
		total += n
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
	fmt.Fprintf(w, "  busy connections per sample: %.1f; most seen (state: last query):\n", float64(total)/float64(a.samples))
	for _, t := range top[:min(12, len(top))] {
		fmt.Fprintf(w, "  %5.1f  %s\n", float64(t.n)/float64(a.samples), strings.TrimSpace(t.k))
	}
	fmt.Fprintln(w)
}
