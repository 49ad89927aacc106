package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/bench/internal/benchkit"
)

// A channel (the webhook, Apple) is not slowed by Google when, with the Google load, its throughput is at least this
// share of the throughput without it, and its p95 latency at most slowdownFactor times the one without it plus
// slowdownSlack.
const (
	minThroughputShare = 0.9
	slowdownFactor     = 2
	slowdownSlack      = 100 * time.Millisecond
)

type summary struct {
	o                options
	busyBefore       float64
	baseline, google []*phase // by round
	abandoned        int
	logLines         int
	logPath          string
}

// reachedBy picks, of a phase, when each update first reached one of its channels: the webhook or Apple's devices.
type reachedBy func(*phase) map[string]time.Time

func byWebhook(p *phase) map[string]time.Time { return p.delivered }
func byApple(p *phase) map[string]time.Time   { return p.pushed }

// ratios are each round's throughput of a channel with Google over the one without.
func (s summary) ratios(by reachedBy) []float64 {
	out := make([]float64, len(s.google))
	for i, g := range s.google {
		out[i] = g.throughput(by(g)) / max(s.baseline[i].throughput(by(s.baseline[i])), 1e-9)
	}
	return out
}

// pooledLatencies are a channel's latencies of every round's phases together.
func pooledLatencies(phases []*phase, by reachedBy) []time.Duration {
	var out []time.Duration
	for _, p := range phases {
		out = append(out, p.latencies(by(p))...)
	}
	slices.Sort(out)
	return out
}

// printDeliveries writes a row per phase of a channel's throughput and latency.
func printDeliveries(w io.Writer, title string, phases []*phase, by reachedBy) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "round: %s\treached\tthroughput\tlatency p50\tp95\tp99\tmax\tall reached after\n", title)
	for _, p := range phases {
		reached := by(p)
		lat := p.latencies(reached)
		fmt.Fprintf(tw, "%s\t%d/%d\t%.0f/s\t%s\t%s\t%s\t%s\t%s\n", p.name, len(reached), p.updates, p.throughput(reached),
			benchkit.Millis(benchkit.Percentile(lat, .5), 0), benchkit.Millis(benchkit.Percentile(lat, .95), 0),
			benchkit.Millis(benchkit.Percentile(lat, .99), 0), benchkit.Millis(benchkit.Percentile(lat, 1), 0),
			benchkit.Secs(last(reached).Sub(p.start)))
	}
	_ = tw.Flush()
}

// checkNotSlowed checks that Google did not slow a channel: the median over the rounds of its throughput ratio,
// and its p95 over every round's deliveries together, which one busy moment moves little.
func (s summary) checkNotSlowed(check func(bool, string, string), channel string, by reachedBy) {
	ratios := s.ratios(by)
	shown := make([]string, len(ratios))
	for i, r := range ratios {
		shown[i] = fmt.Sprintf("%.0f%%", 100*r)
	}
	check(median(ratios) >= minThroughputShare,
		fmt.Sprintf("%s throughput with Google ≥ %.0f%% of without", channel, 100*minThroughputShare),
		fmt.Sprintf("by round %s; median %.0f%%", strings.Join(shown, ", "), 100*median(ratios)))
	bLat, gLat := pooledLatencies(s.baseline, by), pooledLatencies(s.google, by)
	limit := slowdownFactor*benchkit.Percentile(bLat, .95) + slowdownSlack
	check(benchkit.Percentile(gLat, .95) <= limit,
		fmt.Sprintf("%s p95 with Google ≤ %d× without + %s", channel, slowdownFactor, slowdownSlack),
		fmt.Sprintf("%s vs %s (limit %s)", benchkit.Millis(benchkit.Percentile(gLat, .95), 0), benchkit.Millis(benchkit.Percentile(bLat, .95), 0), benchkit.Millis(limit, 0)))
}

// print writes the report and returns how many targets were missed.
func (s summary) print(w io.Writer) int {
	o := s.o
	fmt.Fprintf(w, "\n== passpush Google Wallet benchmark: %s, in process, %d CPUs ==\n", o.backend(), runtime.NumCPU())
	fmt.Fprintf(w, "database %s; %d rounds; %d tenants at %.0f Google requests/s each; %d updates per phase (one per pass, message %v); "+
		"fake Wallet API %s per call, quota %d calls per issuer per sliding second; webhook receiver %s per call\n",
		sqldb.Redact(o.databaseURL), o.rounds, o.tenants, o.rate, o.updates, o.message, o.latency, o.quota, o.receiverDelay)
	skewed := ""
	if s.busyBefore > 0.10 {
		skewed = " (other work on the machine: the figures are skewed)"
	}
	fmt.Fprintf(w, "machine %.0f%% busy in the second before the run%s\n\n", 100*s.busyBefore, skewed)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Google, per tenant\tupdates\tcalls\tspan\tachieved rate\tmax in 1 s\t429\tPATCH 200\taddMessage 200\tmessage once\tbalance set")
	var gTenants []*tenantLoad
	for _, g := range s.google {
		gTenants = append(gTenants, g.tenants...)
	}
	for _, t := range gTenants {
		fmt.Fprintf(tw, "%s (issuer %s)\t%d\t%d\t%s\t%.2f/s\t%d\t%d\t%d\t%d\t%d\t%d\n", t.id, t.issuer, len(t.passIDs), len(t.google.at),
			benchkit.Secs(t.google.span()), t.google.achievedRate(), t.google.maxPerSecond(), t.google.rejected, t.patches, t.adds, t.messages, t.balances)
	}
	_ = tw.Flush()
	calls, perUpdate := 0, 1
	if o.message {
		perUpdate = 2
	}
	for _, t := range gTenants {
		calls += len(t.google.at)
	}
	gUpdates := o.rounds * o.updates
	fmt.Fprintf(w, "Google calls: %d for %d updates (%.2f per update, %d needed); %d abandoned by the caller before the answer\n\n",
		calls, gUpdates, float64(calls)/float64(gUpdates), perUpdate, s.abandoned)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "round\tall outcomes after\temitted/failed\texecute errors\tCPU per update\tDB per update: transactions, deliveries rows updated, table scans, PostgreSQL CPU")
	var phases []*phase
	for i := range s.google {
		phases = append(phases, s.baseline[i], s.google[i])
	}
	for _, p := range phases {
		outcomes := "NOT REACHED: " + p.reason
		if p.complete {
			outcomes = benchkit.Secs(p.drained.Sub(p.start))
		}
		db := "-"
		if p.db.known {
			n := float64(p.updates)
			db = fmt.Sprintf("%.1f, %.1f, %.1f", float64(p.db.transactions)/n, float64(p.db.deliveryUpd)/n, float64(p.db.scans)/n)
			if p.db.cpu > 0 {
				db += ", " + benchkit.Millis(p.db.cpu/time.Duration(max(p.updates, 1)), 2)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\n", p.name, outcomes, p.emitted, p.failed, p.executeErr,
			benchkit.Millis(p.cpu/time.Duration(max(p.updates, 1)), 2), db)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	printDeliveries(w, "webhook deliveries", phases, byWebhook)
	if o.apple {
		fmt.Fprintln(w)
		printDeliveries(w, "Apple pushes", phases, byApple)
	}
	fmt.Fprintf(w, "service log (warn and above): %d %s\n", s.logLines, benchkit.Plural(s.logLines, "line", "lines"))
	if s.logLines > 0 {
		fmt.Fprintf(w, "last lines:\n%s\n", benchkit.Tail(s.logPath, 5))
	}

	targets := benchkit.NewTargets(w, 62)
	check := targets.Check
	rejected := 0
	for _, t := range gTenants {
		r := t.google.achievedRate()
		check(math.Abs(r-o.rate) <= o.rateTolerance*o.rate,
			fmt.Sprintf("%s holds %.0f Google calls/s within %.0f%%", t.id, o.rate, 100*o.rateTolerance),
			fmt.Sprintf("%.2f/s (%+.1f%%), at most %d in a second", r, 100*(r-o.rate)/o.rate, t.google.maxPerSecond()))
		rejected += t.google.rejected
	}
	check(rejected == 0, "no 429 from the fake", fmt.Sprintf("%d", rejected))
	s.checkNotSlowed(check, "webhook", byWebhook)
	if o.apple {
		s.checkNotSlowed(check, "Apple", byApple)
	}
	fmt.Fprintln(w, "correctness:")
	for _, p := range phases {
		check(p.executeErr == 0 && p.complete && p.emitted == p.updates && p.failed == 0,
			p.name+": one PushUpdateEmitted per update, none failed", fmt.Sprintf("%d emitted, %d failed of %d", p.emitted, p.failed, p.updates))
		check(len(p.delivered) == p.updates, p.name+": every update reached the webhook", fmt.Sprintf("%d of %d", len(p.delivered), p.updates))
		if p.apple {
			check(len(p.pushed) == p.updates, p.name+": every update pushed to its device", fmt.Sprintf("%d of %d", len(p.pushed), p.updates))
		}
	}
	var objects, once, balanced int
	for _, t := range gTenants {
		objects, once, balanced = objects+len(t.passIDs), once+t.messages, balanced+t.balances
	}
	check(balanced == objects, "every object patched with its update's data", fmt.Sprintf("%d of %d", balanced, objects))
	if o.message {
		check(once == objects, "every object shows its message exactly once", fmt.Sprintf("%d of %d", once, objects))
	}
	fmt.Fprintln(w)
	return targets.Missed
}
