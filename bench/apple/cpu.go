package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// cpuMeter measures the CPU a phase costs: this process's (the service, the load generator and the fake APNs),
// and, on PostgreSQL, that of the server's backends connected to the benchmark's database. On a machine shared
// with other work, CPU per push or per fetch compares runs where rates and latencies don't.
type cpuMeter struct {
	b        *bench
	start    time.Time
	process  time.Duration
	backends map[int]time.Duration
}

// phaseCPU is what one phase cost.
type phaseCPU struct {
	process, postgres time.Duration
	elapsed           time.Duration
	measured          bool // postgres is known (a PostgreSQL run whose backends /proc shows)
}

// idleCPU measures what the service costs while nobody calls it (the subscribers' and the delivery stage's polls)
// for d: a phase's CPU less that much per second of it is what the phase's calls cost.
func (b *bench) idleCPU(ctx context.Context, d time.Duration) phaseCPU {
	m := b.startCPU(ctx)
	time.Sleep(d)
	return m.stop(ctx)
}

// less returns c less what idle costs in c's time.
func (c phaseCPU) less(idle phaseCPU) phaseCPU {
	if idle.elapsed <= 0 {
		return c
	}
	f := float64(c.elapsed) / float64(idle.elapsed)
	c.process -= time.Duration(f * float64(idle.process))
	c.postgres -= time.Duration(f * float64(idle.postgres))
	return c
}

func (b *bench) startCPU(ctx context.Context) *cpuMeter {
	return &cpuMeter{b: b, start: time.Now(), process: benchkit.ProcessCPU(), backends: b.backendCPU(ctx)}
}

func (m *cpuMeter) stop(ctx context.Context) phaseCPU {
	c := phaseCPU{process: benchkit.ProcessCPU() - m.process, elapsed: time.Since(m.start)}
	now := m.b.backendCPU(ctx)
	if m.backends == nil || now == nil {
		return c
	}
	c.measured = true
	for pid, t := range now {
		c.postgres += t - m.backends[pid] // a backend started during the phase counts whole
	}
	return c
}

// backendCPU reads the CPU time of each PostgreSQL backend connected to the benchmark's database, from /proc:
// nil on SQLite, or when the server's processes are not visible.
func (b *bench) backendCPU(ctx context.Context) map[int]time.Duration {
	if b.o.backend() != "PostgreSQL" {
		return nil
	}
	rows, err := b.svc.DB.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	cpu := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue // ended since
		}
		// The fields after the command's closing parenthesis; utime and stime are the 14th and 15th of the line.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 13 {
			continue
		}
		utime, err1 := strconv.ParseInt(fields[11], 10, 64)
		stime, err2 := strconv.ParseInt(fields[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		cpu[pid] = time.Duration(utime+stime) * (time.Second / clockTicks)
	}
	if rows.Err() != nil || len(cpu) == 0 {
		return nil
	}
	return cpu
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux this runs on.
const clockTicks = 100

// perOp is CPU per operation, in microseconds.
func perOp(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}
