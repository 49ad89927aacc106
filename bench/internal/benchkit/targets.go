package benchkit

import (
	"fmt"
	"io"
)

// Targets prints the PASS/MISS verdicts of a summary and counts the misses, so that the exit status follows from
// what the reader sees.
type Targets struct {
	w      io.Writer
	width  int
	Missed int
}

// NewTargets starts the targets section of a summary on w; width aligns the names in one column.
func NewTargets(w io.Writer, width int) *Targets {
	fmt.Fprintln(w, "\ntargets:")
	return &Targets{w: w, width: width}
}

// Check prints PASS or MISS for one target or correctness check, with what was measured.
func (t *Targets) Check(ok bool, name, got string) {
	verdict := "PASS"
	if !ok {
		verdict = "MISS"
		t.Missed++
	}
	fmt.Fprintf(t.w, "  %s  %-*s %s\n", verdict, t.width, name, got)
}

// Info prints a figure beside the verdicts that is not checked in this run (another backend's target, a paced
// run), so that the reader still sees it.
func (t *Targets) Info(name, got string) {
	fmt.Fprintf(t.w, "  info  %-*s %s\n", t.width, name, got)
}
