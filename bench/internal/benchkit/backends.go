package benchkit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// PIDCPU is the user and system CPU time process pid has used so far, from /proc/PID/stat.
func PIDCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command (field 2) is in parentheses and may hold spaces; the fields after it are plain. Of those, utime
	// and stime are the 12th and 13th (fields 14 and 15 of the line).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Querier is what BackendCPU reads the backends with: *sql.DB, *sqldb.DB or a connection.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// BackendCPU is the CPU time of each PostgreSQL backend connected to db's database, read from /proc: with
// PostgreSQL on the same machine it tells what the database's work costs, which a rate on a shared machine does
// not. A backend that ended since the list was read is left out; the map is empty when PostgreSQL runs elsewhere
// (a pid seen here that is no postgres process is not counted).
//
// The backend asking is listed too. The benches ask through the service's own pool, so the asker is one of the
// service's connections, and another one each time: left out, the one that asked first was missing from the first
// list, and a phase's difference counted its whole life's CPU as new (bench/apple put 3.8 ms of PostgreSQL's CPU
// on each device of a 300 ms phase, more than the two cores have). A caller that asks on a connection of its own
// counts that connection's CPU too: a new one, a few milliseconds for its start.
func BackendCPU(ctx context.Context, db Querier) (map[int]time.Duration, error) {
	rows, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil, fmt.Errorf("list the database's backends: %w", err)
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, fmt.Errorf("list the database's backends: %w", err)
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if cpu, err := PIDCPU(pid); err == nil {
			out[pid] = cpu
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the database's backends: %w", err)
	}
	return out, nil
}
