package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
	var projection string
	cmd := &cobra.Command{
		Use:   "rebuild [--projection passes|audit|deliveries]",
		Short: "Rebuild the passes read model and the audit log, or the delivery queue, from the event store",
		Long: `rebuild empties the passes read model and the audit log and replays every event of the event store into
them, in one transaction: readers see the old ones until it commits. --projection passes or audit does the same:
the two are rebuilt together.

--projection deliveries rebuilds the delivery queue instead: every PassUpdateScheduled that has neither a
PushUpdateEmitted nor a PushUpdateFailed is queued again, unless it is still queued. Nothing that has an outcome is
delivered again. An update queued this way may reach the webhook after later revisions of its pass; its eventId
and version tell the receiver which it is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			start := time.Now()
			n, err := b.RebuildProjections(cmd.Context(), projection)
			if err != nil {
				return err
			}
			took := time.Since(start).Round(time.Millisecond)
			if projection == "deliveries" {
				fmt.Fprintf(cmd.OutOrStdout(), "rebuilt the delivery queue: queued %d updates that had no outcome, in %s\n", n, took)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rebuilt the passes read model and the audit log: applied %d events in %s\n", n, took)
			return nil
		},
	}
	cmd.Flags().StringVar(&projection, "projection", "", "passes, audit or deliveries; empty rebuilds the passes read model and the audit log")
	return cmd
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
