package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

type summary struct {
	o                 options
	mode              string
	busyBefore        float64
	raw               rawResult
	load              loadResult
	drain             drainResult
	tl                *timeline
	stages            stages
	activity          *pgActivity
	execCPU, drainCPU cpuUse
	hwm, rss          int64
	memErr            error
	logPath           string
	logLines          int
}

// print writes the report and returns how many targets (and correctness checks) were missed.
func (s summary) print(w io.Writer) int {
	o, load, d := s.o, s.load, s.drain
	fmt.Fprintf(w, "\n== passpush SFMC execute benchmark: %s, %s, %d CPUs ==\n", s.o.backend(), s.mode, runtime.NumCPU())
	paced := ""
	if o.rate > 0 {
		paced = fmt.Sprintf(", paced at %.0f/s", o.rate)
	}
	fmt.Fprintf(w, "database %s; %d passes; %d execute calls at concurrency %d%s; webhook receiver %s per call\n",
		sqldb.Redact(o.databaseURL), o.passes, load.sent, o.concurrency, paced, o.receiverDelay)
	skewed := ""
	if s.busyBefore > 0.10 {
		skewed = " (other work: the figures are skewed)"
	}
	fmt.Fprintf(w, "machine %.0f%% busy in the second before the run%s\n\n", 100*s.busyBefore, skewed)

	if o.timeline {
		s.printTimeline(w)
	}
	s.stages.print(w)
	s.activity.print(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}

	if !o.skipRaw {
		row("raw watermill-sql publish", "%.0f msg/s (%d goroutines, 1 message per Publish, %d messages in %s, %d errors)",
			s.raw.rate(), o.rawWorkers, s.raw.messages, benchkit.Secs(s.raw.elapsed), s.raw.errors)
	}
	execRate := load.throughput()
	share := ""
	if !o.skipRaw && s.raw.rate() > 0 {
		share = fmt.Sprintf(" = %.0f%% of raw publish", 100*execRate/s.raw.rate())
	}
	row("execute throughput", "%.0f calls/s%s (%d × 200 in %s)", execRate, share, load.ok, benchkit.Secs(load.elapsed()))
	row("execute latency", "p50 %s  p95 %s  p99 %s  max %s (all %d responses)",
		benchkit.Millis(benchkit.Percentile(load.latencies, .50), 1), benchkit.Millis(benchkit.Percentile(load.latencies, .95), 1), benchkit.Millis(benchkit.Percentile(load.latencies, .99), 1),
		benchkit.Millis(benchkit.Percentile(load.latencies, 1), 1), len(load.latencies))
	row("execute non-200", "%d%s", load.failed(), s.failures())
	row("updates scheduled", "%d", load.scheduled)

	r := d.receiver
	row("webhook deliveries", "%d unique of %d, %d calls, %d duplicate, %d bad signature, %d bad body, %d out of order per pass",
		r.unique, load.scheduled, r.calls, r.duplicates, r.badSignature, r.badBody, r.outOfOrder)
	if r.unique > 0 {
		row("all delivered to webhook", "%s after the first execute", benchkit.Secs(r.lastUnique.Sub(load.start)))
	}
	row("PushUpdateEmitted / Failed", "%d / %d (audit API, %d pages)", d.emitted.count, d.failed.count, d.emitted.pages)
	var e2e float64
	if d.complete {
		allEmitted := d.emitted.last.Sub(load.start)
		e2e = float64(load.scheduled) / allEmitted.Seconds()
		row("all PushUpdateEmitted", "%s after the first execute, %s after the last (audit API showed all at %s)",
			benchkit.Secs(allEmitted), benchkit.Secs(d.emitted.last.Sub(load.end)), benchkit.Secs(d.auditCaughtUp.Sub(load.start)))
		row("end-to-end delivered", "%.0f updates/s (first execute → last PushUpdateEmitted)", e2e)
	} else {
		row("all PushUpdateEmitted", "NOT REACHED: %s", d.reason)
	}
	x := d.atExecuteEnd
	row("delivered during execute", "%.0f updates/s (%d by the last execute; backlog %d)",
		float64(x.unique)/load.elapsed().Seconds(), x.unique, load.scheduled-x.unique)
	if after := r.lastUnique.Sub(load.end); r.unique > x.unique && after > 0 {
		row("delivered after execute", "%.0f updates/s (%d in %s)", float64(r.unique-x.unique)/after.Seconds(), r.unique-x.unique, benchkit.Secs(after))
	}
	if peak, at := s.peakDeliveries(); peak > 0 {
		row("peak delivery second", "%d updates in second %d", peak, at)
	}
	if s.execCPU.serviceErr == nil {
		perCall := time.Duration(0)
		if load.ok > 0 {
			perCall = s.execCPU.serviceCPU / time.Duration(load.ok)
		}
		selfNote := fmt.Sprintf(", generator+receiver %.2f cores", s.execCPU.selfCores)
		if o.inprocess {
			selfNote = " (service, generator and receiver share this process)"
		}
		row("CPU during execute", "service %.2f cores (%s per call)%s, machine %.0f%% busy",
			s.execCPU.serviceCores, perCall.Round(time.Microsecond), selfNote, 100*s.execCPU.machineBusy)
		row("CPU after execute", "service %.2f cores, machine %.0f%% busy over %s",
			s.drainCPU.serviceCores, 100*s.drainCPU.machineBusy, benchkit.Secs(s.drainCPU.wall))
	}
	if s.memErr == nil {
		note := ""
		if o.inprocess {
			note = " (includes the load generator and receiver)"
		}
		row("service peak RSS (VmHWM)", "%.1f MiB (VmRSS at the end %.1f MiB)%s", benchkit.MiB(s.hwm), benchkit.MiB(s.rss), note)
	}
	row("service log (warn and above)", "%d %s until the end of the measurement", s.logLines, benchkit.Plural(s.logLines, "line", "lines"))
	_ = tw.Flush()

	if s.logLines > 0 {
		fmt.Fprintf(w, "\nlast lines of the service log (shutdown included):\n%s\n", benchkit.Tail(s.logPath, 5))
	}

	t := benchkit.NewTargets(w, 58)
	check, info := t.Check, t.Info
	p99 := benchkit.Percentile(load.latencies, .99)
	if o.backend() == "PostgreSQL" {
		if o.skipRaw {
			info("execute ≥ 40% of raw publish", "not measured (-skip-raw)")
		} else if o.rate > 0 {
			info("execute ≥ 40% of raw publish", fmt.Sprintf("not checked: paced at %.0f/s (raw %.0f/s)", o.rate, s.raw.rate()))
		} else {
			check(execRate >= targetRawShare*s.raw.rate(), "execute ≥ 40% of raw watermill-sql publish rate",
				fmt.Sprintf("%.0f/s vs %.0f/s (need %.0f/s)", execRate, s.raw.rate(), targetRawShare*s.raw.rate()))
		}
		check(p99 <= targetP99, "execute p99 ≤ 25 ms", benchkit.Millis(p99, 1))
		if o.rate > 0 && o.rate < targetDelivered {
			info("≥ 2,000 updates/s delivered end to end", fmt.Sprintf("not checked: paced at %.0f/s (got %.0f/s)", o.rate, e2e))
		} else {
			check(d.complete && e2e >= targetDelivered, "≥ 2,000 updates/s delivered end to end (50 ms receiver)",
				fmt.Sprintf("%.0f/s", e2e))
		}
		check(s.memErr == nil && s.hwm <= targetRSS, "service peak RSS ≤ 150 MiB", fmt.Sprintf("%.1f MiB", benchkit.MiB(s.hwm)))
	} else {
		if o.rate > 0 && o.rate < targetSQLiteRate {
			info("execute ≥ 1,500 calls/s", fmt.Sprintf("not checked: paced at %.0f/s (got %.0f/s)", o.rate, execRate))
		} else {
			check(execRate >= targetSQLiteRate, "execute ≥ 1,500 calls/s", fmt.Sprintf("%.0f/s", execRate))
		}
		info("execute p99 (PostgreSQL target ≤ 25 ms)", benchkit.Millis(p99, 1))
		info("end to end (PostgreSQL target ≥ 2,000/s)", fmt.Sprintf("%.0f/s", e2e))
		info("peak RSS (PostgreSQL target ≤ 150 MiB)", fmt.Sprintf("%.1f MiB", benchkit.MiB(s.hwm)))
	}
	fmt.Fprintln(w, "correctness:")
	check(load.failed() == 0, "every execute answered 200 scheduled", fmt.Sprintf("%d other", load.failed()))
	check(d.complete && r.unique == load.scheduled && r.badSignature == 0 && r.badBody == 0,
		"every update delivered, validly signed", fmt.Sprintf("%d of %d", r.unique, load.scheduled))
	check(r.outOfOrder == 0, "deliveries in order per pass", fmt.Sprintf("%d out of order", r.outOfOrder))
	check(d.emitted.count == load.scheduled && d.failed.count == 0, "one PushUpdateEmitted per update, no PushUpdateFailed",
		fmt.Sprintf("%d emitted, %d failed", d.emitted.count, d.failed.count))
	if r.duplicates > 0 {
		info("duplicate deliveries (allowed: at least once)", fmt.Sprintf("%d", r.duplicates))
	}
	if d.auditErrors > 0 {
		info("audit API errors while polling", fmt.Sprintf("%d, last: %v", d.auditErrors, d.lastAuditError))
	}
	fmt.Fprintln(w)
	return t.Missed
}

func (s summary) failures() string {
	if s.load.failed() == 0 {
		return ""
	}
	var parts []string
	codes := make([]int, 0, len(s.load.statuses))
	for c := range s.load.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s.load.statuses[c], c))
	}
	if s.load.transportErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d transport errors", s.load.transportErrors))
	}
	return " (" + joinNonEmpty(strings.Join(parts, " "), "e.g. "+strings.Join(s.load.samples, " | ")) + ")"
}

func (s summary) peakDeliveries() (peak int64, at int) {
	last := int(s.tl.lastIndex.Load())
	for i := 0; i <= last && i < len(s.tl.delivers); i++ {
		if n := s.tl.delivers[i].Load(); n > peak {
			peak, at = n, i
		}
	}
	return peak, at
}

func (s summary) printTimeline(w io.Writer) {
	last := int(s.tl.lastIndex.Load())
	last = max(last, len(s.stages.scheduledPerSec)-1, len(s.stages.emittedPerSec)-1)
	if last < 0 {
		return
	}
	at := func(counts []int, i int) int64 {
		if i < len(counts) {
			return int64(counts[i])
		}
		return 0
	}
	step := (last + 60) / 60 // at most 60 rows
	fmt.Fprintf(w, "per second since the first execute:  execute 200s | PassUpdateScheduled stored | first webhook deliveries | PushUpdateEmitted stored\n")
	for i := 0; i <= last; i += step {
		var ex, sc, de, em int64
		for j := i; j < i+step && j <= last; j++ {
			if j < len(s.tl.executes) {
				ex += s.tl.executes[j].Load()
				de += s.tl.delivers[j].Load()
			}
			sc += at(s.stages.scheduledPerSec, j)
			em += at(s.stages.emittedPerSec, j)
		}
		n := int64(min(step, last-i+1))
		fmt.Fprintf(w, "  %4d s  exec %6d/s  scheduled %6d/s  delivered %6d/s  emitted %6d/s", i, ex/n, sc/n, de/n, em/n)
		if step == 1 && i < len(s.load.perSecond) && len(s.load.perSecond[i]) > 0 {
			lats := s.load.perSecond[i]
			fmt.Fprintf(w, "  execute p50 %s p99 %s", benchkit.Millis(benchkit.Percentile(lats, 0.50), 1), benchkit.Millis(benchkit.Percentile(lats, 0.99), 1))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}
