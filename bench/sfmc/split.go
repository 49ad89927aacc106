package main

import (
	"fmt"
	"io"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// Targets of the "Wallet pass?" split from issue 15, at concurrency 64 on PostgreSQL on this 2-core machine.
const (
	targetSplitRate = 3000.0
	targetSplitP99  = 25 * time.Millisecond
)

// printSplit prints the -split run's figures and verdicts and returns how many targets were missed.
func printSplit(w io.Writer, o options, load loadResult, busyBefore float64, cpu cpuUse, pgUsed time.Duration, pgCommits int64, pgBackends [2]int, pgErr error) int {
	p50, p99 := benchkit.Percentile(load.latencies, .50), benchkit.Percentile(load.latencies, .99)
	fmt.Fprintf(w, "\nbench/sfmc -split (%s, concurrency %d, %d passes, machine %.0f%% busy before)\n", o.backend(), o.concurrency, o.passes, 100*busyBefore)
	fmt.Fprintf(w, "  split execute: %d sent, %d answered 200 with a branch in %s = %.0f calls/s\n",
		load.sent, load.ok, load.elapsed().Round(time.Millisecond), load.throughput())
	fmt.Fprintf(w, "  latency: p50 %s  p99 %s  max %s\n", benchkit.Millis(p50, 1), benchkit.Millis(p99, 1),
		benchkit.Millis(benchkit.Percentile(load.latencies, 1), 1))
	// CPU per call compares runs on a shared machine better than calls/s: it does not count time spent waiting
	// for a core the other work has.
	if cpu.serviceErr == nil && load.ok > 0 {
		fmt.Fprintf(w, "  CPU: service %.2f cores, %s per call; load generator %.2f cores; machine %.0f%% busy\n",
			cpu.serviceCores, benchkit.Millis(cpu.serviceCPU/time.Duration(load.ok), 3), cpu.selfCores, 100*cpu.machineBusy)
	}
	if pgErr == nil && load.ok > 0 {
		fmt.Fprintf(w, "  CPU: PostgreSQL backends of the database %.2f cores, %s per call; %.3f commits per call\n",
			pgUsed.Seconds()/cpu.wall.Seconds(), benchkit.Millis(pgUsed/time.Duration(load.ok), 3), float64(pgCommits)/float64(load.ok))
		fmt.Fprintf(w, "  PostgreSQL backends of the database: %d at the first call, %d at the end\n", pgBackends[0], pgBackends[1])
	}
	// Per second, so a tail made of a few stalls (a checkpoint, a pause) is told from one spread over the run.
	fmt.Fprintf(w, "  per second since the first call: 200s, latency p50 / p99 / max\n")
	for sec, lats := range load.perSecond {
		if len(lats) == 0 {
			continue
		}
		fmt.Fprintf(w, "    %3d s  %5d  %s / %s / %s\n", sec, len(lats), benchkit.Millis(benchkit.Percentile(lats, .50), 1),
			benchkit.Millis(benchkit.Percentile(lats, .99), 1), benchkit.Millis(benchkit.Percentile(lats, 1), 1))
	}
	fmt.Fprintf(w, "  the first second by tenths: 200s, latency p50 / p99 / max\n")
	for tenth, lats := range load.firstSecond {
		if len(lats) == 0 {
			continue
		}
		fmt.Fprintf(w, "    %.1f s  %5d  %s / %s / %s\n", float64(tenth)/10, len(lats), benchkit.Millis(benchkit.Percentile(lats, .50), 1),
			benchkit.Millis(benchkit.Percentile(lats, .99), 1), benchkit.Millis(benchkit.Percentile(lats, 1), 1))
	}
	if load.failed() > 0 {
		fmt.Fprintf(w, "  failures: %v %d transport errors; samples %v\n", load.statuses, load.transportErrors, load.samples)
	}
	t := benchkit.NewTargets(w, 40)
	if o.backend() == "PostgreSQL" && o.rate == 0 {
		t.Check(load.throughput() >= targetSplitRate, "split ≥ 3,000 calls/s", fmt.Sprintf("%.0f/s", load.throughput()))
		t.Check(p99 <= targetSplitP99, "split p99 ≤ 25 ms", benchkit.Millis(p99, 1))
	} else {
		t.Info("split calls/s (PostgreSQL target ≥ 3,000)", fmt.Sprintf("%.0f/s", load.throughput()))
		t.Info("split p99 (PostgreSQL target ≤ 25 ms)", benchkit.Millis(p99, 1))
	}
	t.Check(load.failed() == 0, "every split answered 200 with a branch", fmt.Sprintf("%d other", load.failed()))
	return t.Missed
}
