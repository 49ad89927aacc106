package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

type summary struct {
	o              options
	busyBefore     float64
	cold, cached   buildResult
	push           pushResult
	fetch, refetch fetchResult
	// CPU of the journey (per push) and of each round of fetches (per device: its serials and its pass)
	pushCPU, fetchCPU, refetchCPU phaseCPU
	idleCPU                       phaseCPU // 2 s without calls, subtracted from the fetches' per device
	hwm                           int64
	memErr                        error
	logLines                      int
	logPath                       string
}

// print writes the report and returns how many targets (and correctness checks) were missed.
func (s summary) print(w io.Writer) int {
	o, p, f := s.o, s.push, s.fetch
	fmt.Fprintf(w, "\n== passpush Apple Wallet benchmark: %s, in process, %d CPUs (GOMAXPROCS %d) ==\n", o.backend(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%d passes, one device each; fake APNs %s per push; execute concurrency %d; builds in flight %d\n",
		o.passes, o.apnsDelay, o.concurrency, o.signConcurrency)
	skewed := ""
	if s.busyBefore > 0.10 {
		skewed = " (other work: the figures are skewed)"
	}
	fmt.Fprintf(w, "machine %.0f%% busy in the second before the run%s\n\n", 100*s.busyBefore, skewed)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	row("build and sign, cold", "%.0f passes/s (%d distinct passes in %s; each first build also makes its token)", s.cold.rate(), s.cold.builds, benchkit.Secs(s.cold.elapsed))
	row("build, from the cache", "%.0f passes/s (%d builds in %s)", s.cached.rate(), s.cached.builds, benchkit.Secs(s.cached.elapsed))
	row("execute calls", "%d in %s (%.0f/s)", p.executes, benchkit.Secs(p.executeElapsed), float64(p.executes)/p.executeElapsed.Seconds())
	row("pushes end to end", "%.0f pushes/s (%d devices pushed, last push %s after the first execute)", p.rate(), p.pushed, benchkit.Secs(p.lastPush))
	row("pushes the fake APNs took", "%d (%d refused as malformed)", p.pushes, p.refused)
	row("PushUpdateEmitted / Failed", "%d / %d", p.emitted, p.failed)
	all := f.all()
	row("devices fetching at once", "%d: serials then pass", len(f.passes))
	row("  serials latency", "p50 %s  p99 %s  max %s", benchkit.Millis(benchkit.Percentile(f.serials, .5), 1), benchkit.Millis(benchkit.Percentile(f.serials, .99), 1), benchkit.Millis(benchkit.Percentile(f.serials, 1), 1))
	row("  pass latency", "p50 %s  p99 %s  max %s", benchkit.Millis(benchkit.Percentile(f.passes, .5), 1), benchkit.Millis(benchkit.Percentile(f.passes, .99), 1), benchkit.Millis(benchkit.Percentile(f.passes, 1), 1))
	row("  all requests", "p50 %s  p99 %s  max %s (%d requests)", benchkit.Millis(benchkit.Percentile(all, .5), 1), benchkit.Millis(benchkit.Percentile(all, .99), 1), benchkit.Millis(benchkit.Percentile(all, 1), 1), len(all))
	again := s.refetch.all()
	row("  the same again, signed", "p50 %s  p99 %s  max %s (%d requests; the passes come from the cache)", benchkit.Millis(benchkit.Percentile(again, .5), 1), benchkit.Millis(benchkit.Percentile(again, .99), 1), benchkit.Millis(benchkit.Percentile(again, 1), 1), len(again))
	cpuRow := func(name string, c phaseCPU, n int, per string) {
		pg := ""
		if c.measured {
			pg = fmt.Sprintf(", PostgreSQL backends %.0f µs", perOp(c.postgres, n))
		}
		row(name, "process %.0f µs%s per %s", perOp(c.process, n), pg, per)
	}
	cpuRow("CPU of the journey", s.pushCPU, p.pushed, "push")
	cpuRow("CPU of the fetches", s.fetchCPU, len(f.passes), "device")
	cpuRow("  less the idle service's", s.fetchCPU.less(s.idleCPU), len(f.passes), "device")
	cpuRow("CPU of the fetches again", s.refetchCPU, len(s.refetch.passes), "device")
	cpuRow("  less the idle service's", s.refetchCPU.less(s.idleCPU), len(s.refetch.passes), "device")
	if s.idleCPU.elapsed > 0 {
		pg := ""
		if s.idleCPU.measured {
			pg = fmt.Sprintf(", PostgreSQL backends %.0f ms", perOp(s.idleCPU.postgres, 1)/1000/s.idleCPU.elapsed.Seconds())
		}
		row("CPU of the idle service", "process %.0f ms%s per second", perOp(s.idleCPU.process, 1)/1000/s.idleCPU.elapsed.Seconds(), pg)
	}
	if s.memErr == nil {
		row("peak RSS (VmHWM)", "%.1f MiB (the whole process: service, load generator and fake APNs)", benchkit.MiB(s.hwm))
	}
	row("service log (warn and above)", "%d lines", s.logLines)
	_ = tw.Flush()
	if s.logLines > 0 {
		fmt.Fprintf(w, "\nlast lines of the service log:\n%s\n", benchkit.Tail(s.logPath, 5))
	}

	t := benchkit.NewTargets(w, 58)
	check := t.Check
	check(s.cold.rate() >= targetColdRate, "build and sign cold ≥ 800 passes/s", fmt.Sprintf("%.0f/s", s.cold.rate()))
	check(s.cached.rate() >= targetCachedRate, "build from the cache ≥ 10,000 passes/s", fmt.Sprintf("%.0f/s", s.cached.rate()))
	check(p.rate() >= targetPushRate, "≥ 2,000 pushes/s end to end (20 ms APNs)", fmt.Sprintf("%.0f/s", p.rate()))
	check(benchkit.Percentile(all, .99) <= targetFetchP99, "500 devices' serials and pass fetches p99 ≤ 50 ms", benchkit.Millis(benchkit.Percentile(all, .99), 1))
	check(s.memErr == nil && s.hwm <= targetRSS, "peak RSS ≤ 200 MiB", fmt.Sprintf("%.1f MiB", benchkit.MiB(s.hwm)))
	fmt.Fprintln(w, "correctness:")
	check(p.pushed == o.passes && p.refused == 0, "every device pushed once at least, none refused", fmt.Sprintf("%d of %d", p.pushed, o.passes))
	check(p.pushes == p.pushed, "no device pushed twice", fmt.Sprintf("%d pushes", p.pushes))
	check(p.emitted == o.passes && p.failed == 0, "one PushUpdateEmitted per update", fmt.Sprintf("%d emitted, %d failed", p.emitted, p.failed))
	check(f.wrong+s.refetch.wrong == 0 && len(f.passes) == o.devices && len(s.refetch.passes) == o.devices, "every device lists its pass and fetches the new points",
		fmt.Sprintf("%d wrong %s", f.wrong+s.refetch.wrong, strings.Join(slices.Concat(f.samples, s.refetch.samples), " | ")))
	fmt.Fprintln(w)
	return t.Missed
}
