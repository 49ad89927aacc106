package main

import (
	"context"
	"fmt"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

// pgCPU is the CPU time of the PostgreSQL backends serving the benchmark's database, read from /proc: with
// PostgreSQL on the same machine it tells how much of the database's work a call costs, which calls/s on a
// machine shared with other work does not. The service's pool keeps its connections, so sampling the same
// backends before and after the load counts nearly all of it; a backend that ended in between is not counted,
// and the sample's own connection, new each time, adds its start's few milliseconds.
type pgCPU struct {
	byPID map[int]time.Duration
	// commits is the database's committed transactions (pg_stat_database, which backends report within a second
	// or so): a count that on a shared machine is steadier than any time.
	commits int64
	err     error
}

func samplePGCPU(ctx context.Context, databaseURL string) pgCPU {
	s := pgCPU{byPID: map[int]time.Duration{}}
	db, err := sqldb.Open(ctx, databaseURL, sqldb.Config{})
	if err != nil {
		s.err = err
		return s
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.commits); err != nil {
		s.err = fmt.Errorf("read commits: %w", err)
		return s
	}
	s.byPID, s.err = benchkit.BackendCPU(ctx, db)
	return s
}

// pgCPUBetween is the backends' CPU time and the database's commits between two samples; a backend that started
// in between counts whole.
func pgCPUBetween(a, b pgCPU) (time.Duration, int64, error) {
	if a.err != nil {
		return 0, 0, a.err
	}
	if b.err != nil {
		return 0, 0, b.err
	}
	var total time.Duration
	for pid, cpu := range b.byPID {
		total += cpu - a.byPID[pid]
	}
	return total, b.commits - a.commits, nil
}
