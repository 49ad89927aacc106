package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/passpush/passpush/app/rebuild"
	"github.com/spf13/cobra"
)

func newProjectionsCommand(e *env) *cobra.Command {
	projections := &cobra.Command{
		Use:   "projections",
		Short: "Manage the read models built from the event store",
	}
	projections.AddCommand(newProjectionsRebuildCommand(e), newProjectionsSkipCommand(e))
	return projections
}

func newProjectionsRebuildCommand(e *env) *cobra.Command {
	var options rebuild.Options
	cmd := &cobra.Command{
		Use:   "rebuild [--projection passes|audit|apple_registrations|deliveries|all] [--dry-run]",
		Short: "Rebuild read models from the event store while serve runs, or check them (--dry-run)",
		Long: `rebuild builds the read models anew from the event store while serve keeps running on the same database. It
fills new tables in short transactions, catches up with the events that arrive meanwhile, builds their indexes
and swaps them in with one short transaction, which holds the live projections for that moment and applies the
last few events. Until the swap, serve reads the old tables; no call waits on the rebuild for more than a few
hundred milliseconds. The audit log's positions are numbered anew, so cursors held from before no longer apply.

--projection deliveries rebuilds the delivery queue: the queue keeps every row it has (they hold what their
deliveries did so far), and every PassUpdateScheduled that has neither a PushUpdateEmitted nor a PushUpdateFailed,
is not queued, and that the live projection has passed, is queued again. Nothing is delivered twice and no
pending delivery is dropped. An update queued this way may reach the webhook after later revisions of its pass;
its eventId and version tell the receiver which it is.

all, the default, rebuilds every one. --dry-run builds into scratch tables, compares them with the live ones,
prints the rows missing, extra and different (a count and the first keys), drops the scratch tables and changes
nothing: that is how to check a projection. Progress goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			bar := newProgressBar(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()))
			options.Progress = bar.show
			report, err := b.RebuildProjections(cmd.Context(), options)
			bar.end()
			if err != nil {
				return err
			}
			printRebuildReport(cmd.OutOrStdout(), report, options.DryRun)
			return nil
		},
	}
	cmd.Flags().StringVar(&options.Projection, "projection", "all", "passes, audit, apple_registrations, deliveries or all")
	cmd.Flags().BoolVar(&options.DryRun, "dry-run", false, "compare a fresh build with the live tables and report the differences; change nothing")
	return cmd
}

func printRebuildReport(w io.Writer, r rebuild.Report, dryRun bool) {
	took := r.Took.Round(time.Millisecond)
	if dryRun {
		fmt.Fprintf(w, "compared a fresh build of %s with the live tables (%d events, %s); nothing changed\n",
			strings.Join(r.Projections, ", "), r.Events, took)
		for _, d := range r.Differences {
			if d.None() {
				fmt.Fprintf(w, "%s: no differences\n", d.Table)
				continue
			}
			fmt.Fprintf(w, "%s: %d missing, %d extra, %d different\n", d.Table, d.Missing, d.Extra, d.Different)
			for _, k := range []struct {
				kind string
				keys []string
			}{{"missing", d.MissingKeys}, {"extra", d.ExtraKeys}, {"different", d.DifferentKeys}} {
				if len(k.keys) > 0 {
					fmt.Fprintf(w, "  %s: %s\n", k.kind, strings.Join(k.keys, ", "))
				}
			}
		}
		if slices.Contains(r.Projections, "deliveries") {
			fmt.Fprintf(w, "deliveries: %d updates without an outcome are not queued\n", r.Requeued)
		}
		return
	}
	for _, p := range r.Projections {
		if p != "deliveries" {
			fmt.Fprintf(w, "rebuilt %s\n", p)
		}
	}
	if r.Events > 0 || !slices.Contains(r.Projections, "deliveries") {
		fmt.Fprintf(w, "applied %d events in %s\n", r.Events, took)
	}
	if slices.Contains(r.Projections, "deliveries") {
		fmt.Fprintf(w, "rebuilt the delivery queue: queued %d updates that had no outcome\n", r.Requeued)
	}
}

func newProjectionsSkipCommand(e *env) *cobra.Command {
	var projection, reason string
	var position int64
	cmd := &cobra.Command{
		Use:   "skip --projection NAME --position N --reason R",
		Short: "Let a stopped projection pass over the event it stopped on",
		Long: `A projection that cannot take an event (it cannot decode it, or the event breaks an invariant) stops on it:
it takes nothing after it, tries it again with backoff, and serve logs an error with the event's id and position.
After a release that fixes the projection it goes on by itself. skip is the other way out: the projection NAME
(passes, audit or deliveries) passes over the event at position N, and a ProjectionSkipped event records who
skipped what and why. The stopped projection takes the skip at its next try, within 30 seconds.

What the skipped event would have changed in that projection is lost to it: a skipped PassUpdateScheduled is
not delivered, and the passes read model does not show it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why the event is skipped")
			}
			if position <= 0 {
				return errors.New("--position must be the positive position of the event the projection stopped on")
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			id, err := b.SkipEvent(cmd.Context(), projection, position, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "projection %s skips the event at position %d; recorded as ProjectionSkipped %s\n", projection, position, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&projection, "projection", "", "the projection that stopped: passes, audit or deliveries")
	cmd.Flags().Int64Var(&position, "position", 0, "the position of the event it stopped on, as its log says")
	cmd.Flags().StringVar(&reason, "reason", "", "why the event is skipped; kept in the ProjectionSkipped event")
	for _, name := range []string{"projection", "position", "reason"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}
