package main

import (
	"context"
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
	cpu, err := benchkit.BackendCPU(ctx, b.svc.DB)
	if err != nil || len(cpu) == 0 {
		return nil
	}
	return cpu
}

// perOp is CPU per operation, in microseconds.
func perOp(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}
