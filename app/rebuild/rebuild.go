// Package rebuild holds what a port asks of an online projection rebuild and what it hears back. The rebuild
// itself is an adapter (adapters/rebuild): it is all tables and SQL.
package rebuild

import "time"

// Options is one rebuild.
type Options struct {
	// Projection is passes, audit, apple_registrations, deliveries or all; empty is all.
	Projection string
	// DryRun builds into scratch tables, compares them with the live ones and drops them: nothing changes.
	DryRun bool
	// Progress, when set, is told how far the rebuild is, a few times a second at most.
	Progress func(Progress)
}

// Progress is how far a rebuild is.
type Progress struct {
	// Phase names the step: fill, index, catch-up, swap, compare, requeue.
	Phase string
	// Done of Total events are applied; Total grows while events arrive.
	Done, Total int64
	Elapsed     time.Duration
}

// Report is what a rebuild did.
type Report struct {
	// Projections are the projections rebuilt (or compared), in order.
	Projections []string
	// Events is how many events were applied to the new tables, catch-up included.
	Events int64
	// Requeued is how many updates without an outcome the deliveries rebuild queued again (or, dry, would).
	Requeued int
	// Differences are a dry run's findings, one per table compared, empty ones included.
	Differences []Difference
	Took        time.Duration
}

// Difference is how a live table differs from a fresh build of it.
type Difference struct {
	Table string
	// Missing rows are in the fresh build only, Extra rows in the live table only; Different rows are in both
	// with other values.
	Missing, Extra, Different int64
	// The first few keys of each kind, for the operator to look at.
	MissingKeys, ExtraKeys, DifferentKeys []string
}

// None reports whether the live table equals the fresh build.
func (d Difference) None() bool { return d.Missing == 0 && d.Extra == 0 && d.Different == 0 }
