package main

import (
	"context"
	"slices"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

// dbWork is what PostgreSQL counted for the benchmark's database: transactions, rows of the deliveries table
// updated (claims, renewals, rescheduling), and scans of every table (at least one per statement that reads or
// writes a table). PostgreSQL 15 has no statement count without pg_stat_statements, which needs a restart; the
// scans stand in for it. SQLite counts none of these.
//
// backends is the CPU time each of the database's backends has used, when PostgreSQL runs on this machine: the
// scans count statements, not what they cost (a sequential scan of every held-back delivery counts as one, an
// index lookup per tenant as several).
type dbWork struct {
	known        bool
	transactions int64
	deliveryUpd  int64
	scans        int64
	backends     map[int]time.Duration
	cpu          time.Duration // set by minus
}

// statsSettle is how long PostgreSQL's backends may keep their counts before they report them: at most a second
// while they work, and at the latest when they next go idle.
const statsSettle = 1500 * time.Millisecond

func readDBWork(ctx context.Context, s *benchkit.Service) dbWork {
	if s.DB.Dialect.Name != sqldb.Postgres.Name {
		return dbWork{}
	}
	var w dbWork
	err := s.DB.QueryRowContext(ctx, `SELECT
		(SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
		(SELECT COALESCE(SUM(n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'deliveries'),
		(SELECT COALESCE(SUM(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0) FROM pg_stat_user_tables)`).
		Scan(&w.transactions, &w.deliveryUpd, &w.scans)
	w.known = err == nil
	w.backends = backendCPU(ctx, s)
	return w
}

// minus is the work done since before. A backend that started since counts from nothing; one that ended since
// is not counted.
func (w dbWork) minus(before dbWork) dbWork {
	d := dbWork{known: w.known && before.known, transactions: w.transactions - before.transactions,
		deliveryUpd: w.deliveryUpd - before.deliveryUpd, scans: w.scans - before.scans}
	for pid, cpu := range w.backends {
		d.cpu += cpu - before.backends[pid]
	}
	return d
}

// backendCPU is the CPU time of each backend connected to the benchmark's database: nil when PostgreSQL runs
// elsewhere or cannot be read.
func backendCPU(ctx context.Context, s *benchkit.Service) map[int]time.Duration {
	cpu, err := benchkit.BackendCPU(ctx, s.DB)
	if err != nil || len(cpu) == 0 {
		return nil
	}
	return cpu
}

// median of xs, the mean of the middle two for an even count; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
