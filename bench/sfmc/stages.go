package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/bench/internal/benchkit"
)

// stages follows each update through the pipeline, matched by its contact entry (definitionInstanceId) and
// event id, using only what the benchmark can see from outside: the 200 of the execute call, the
// PassUpdateScheduled and PushUpdateEmitted events in the audit API (occurredAt is when each was stored), and
// the first webhook delivery.
type stages struct {
	matched                                  int
	toScheduled, toDelivered, toEmitted, all []time.Duration
	// per second since the first execute
	scheduledPerSec, emittedPerSec []int
	err                            error
}

func analyseStages(ctx context.Context, baseURL, tenantID, adminToken, runID string, load loadResult, rcv *receiver, d drainResult) stages {
	var st stages
	scheduledAt := make(map[string]time.Time, load.scheduled) // by definitionInstanceId
	sched := newAuditCounter(baseURL, tenantID, "PassUpdateScheduled", adminToken)
	sched.onEvent = func(at time.Time, data json.RawMessage) {
		var e struct {
			DefinitionInstanceID string `json:"definitionInstanceId"`
		}
		if json.Unmarshal(data, &e) == nil {
			scheduledAt[e.DefinitionInstanceID] = at
		}
	}
	if err := sched.poll(ctx); err != nil {
		st.err = err
		return st
	}
	bucket := func(counts *[]int, at time.Time) {
		i := int(at.Sub(load.start) / time.Second)
		if i < 0 {
			return
		}
		for len(*counts) <= i {
			*counts = append(*counts, 0)
		}
		(*counts)[i]++
	}
	for _, at := range scheduledAt {
		bucket(&st.scheduledPerSec, at)
	}
	for _, at := range d.emittedAt {
		bucket(&st.emittedPerSec, at)
	}
	for eventID, fd := range rcv.firstDeliveries() {
		i, ok := callIndex(runID, fd.definitionInstanceID)
		if !ok {
			continue
		}
		ok200, ok1 := load.okAt[i]
		scheduled, ok2 := scheduledAt[fd.definitionInstanceID]
		emitted, ok3 := d.emittedAt[eventID]
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		st.matched++
		st.toScheduled = append(st.toScheduled, scheduled.Sub(ok200))
		st.toDelivered = append(st.toDelivered, fd.at.Sub(scheduled))
		st.toEmitted = append(st.toEmitted, emitted.Sub(fd.at))
		st.all = append(st.all, emitted.Sub(ok200))
	}
	for _, s := range [][]time.Duration{st.toScheduled, st.toDelivered, st.toEmitted, st.all} {
		slices.Sort(s)
	}
	return st
}

// callIndex parses the call index out of a definitionInstanceId the generator made ("<runID>-<i>").
func callIndex(runID, definitionInstanceID string) (int64, bool) {
	rest, ok := strings.CutPrefix(definitionInstanceID, runID+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(rest, 10, 64)
	return i, err == nil
}

func (st stages) print(w io.Writer) {
	if st.err != nil {
		fmt.Fprintf(w, "pipeline stages: %v\n\n", st.err)
		return
	}
	if st.matched == 0 {
		return
	}
	fmt.Fprintf(w, "pipeline stages per update (%d matched):               p50        p95        p99        max\n", st.matched)
	line := func(name string, s []time.Duration) {
		fmt.Fprintf(w, "  %-52s %9s  %9s  %9s  %9s\n", name,
			benchkit.Millis(benchkit.Percentile(s, .5), 1), benchkit.Millis(benchkit.Percentile(s, .95), 1), benchkit.Millis(benchkit.Percentile(s, .99), 1), benchkit.Millis(benchkit.Percentile(s, 1), 1))
	}
	line("execute 200 → PassUpdateScheduled stored", st.toScheduled)
	line("PassUpdateScheduled → webhook delivered (incl. 50 ms)", st.toDelivered)
	line("webhook delivered → PushUpdateEmitted stored", st.toEmitted)
	line("execute 200 → PushUpdateEmitted stored", st.all)
	fmt.Fprintln(w)
}
