package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

// processCPU is the CPU time this process (passpush, the fake, the receiver and the callers) has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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

// backendCPU is the CPU time of each backend connected to the benchmark's database, read from /proc: nil when
// PostgreSQL runs elsewhere.
func backendCPU(ctx context.Context, s *benchkit.Service) map[int]time.Duration {
	rows, err := s.DB.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		if cpu, err := processCPUOf(pid); err == nil {
			out[pid] = cpu
		}
	}
	if rows.Err() != nil || len(out) == 0 {
		return nil
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// processCPUOf is the user and system CPU time of a postgres process on this machine.
func processCPUOf(pid int) (time.Duration, error) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return 0, fmt.Errorf("process %d is no local postgres backend", pid)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command, which is in parentheses and may hold spaces: utime and stime are the 12th
	// and 13th of them.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
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
