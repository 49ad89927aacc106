package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/app/poison"
	"github.com/spf13/cobra"
)

func newPoisonCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "poison",
		Short: "Show and replay the messages that were parked on the poison topic",
		Long: `Builds before issue 9 parked a command or an event batch on the poison topic when its handler failed three
times, and nothing read it: those are updates Journey Builder got a 200 for that were never scheduled, or events
that never reached the read models and the delivery queue. list shows them; replay sends them back.`,
	}
	cmd.AddCommand(newPoisonListCommand(e), newPoisonReplayCommand(e))
	return cmd
}

func newPoisonListCommand(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the messages on the poison topic, oldest first",
		Long: `list shows each message on the poison topic: its id, its offset on the poison topic, the topic, handler and
subscriber it failed in, its kind (ScheduleJourneyPassUpdates is a command, Batch a batch of events), when it was
poisoned (UTC) and the error it failed with. --json prints one JSON object per message and line instead of the
table, and nothing when there are none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			msgs, err := b.Poison.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				for _, m := range msgs {
					if err := enc.Encode(m); err != nil {
						return fmt.Errorf("write message %s: %w", m.ID, err)
					}
				}
				return nil
			}
			if len(msgs) == 0 {
				fmt.Fprintln(out, "no poisoned messages")
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tOFFSET\tTOPIC\tHANDLER\tSUBSCRIBER\tKIND\tPOISONED AT\tREASON")
			for _, m := range msgs {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(m.ID), m.Offset, orDash(m.Topic), orDash(m.Handler),
					orDash(m.Subscriber), orDash(m.Kind), m.PoisonedAt.UTC().Format(time.DateTime), orDash(m.Reason))
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}

func newPoisonReplayCommand(e *env) *cobra.Command {
	var (
		ids []string
		all bool
	)
	cmd := &cobra.Command{
		Use:   "replay (--id ID ... | --all)",
		Short: "Send poisoned messages back to their original topics",
		Long: `replay sends each chosen message back to the topic it failed on, with the same payload and metadata, and
takes it off the poison topic, in one transaction per message: if it is interrupted, run it again; a message is
never lost or sent twice. An id that is not on the poison topic is an error, and then nothing is replayed.

serve handles what was replayed as it handles new messages, at once if it is running, else when it starts. Run
it with the fix for what made the messages fail, or they fail again (and builds before issue 9 park them again).

Commands (ScheduleJourneyPassUpdates) are safe to replay: a pass takes an update of a contact entry once, so an
update it already has is ignored. Event batches (Batch) go back behind the events stored since they failed, so
the read models may get them out of order, and a pass in the passes read model keeps its later version. Run
passpush projections rebuild after replaying event batches: it rebuilds the read models from the event store,
in order.`,
		Example: `  passpush poison list
  passpush poison replay --id 2b9f0c1e-6a57-4a7e-9d53-0c6a1b1e2f3a
  passpush poison replay --all && passpush projections rebuild`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked before the database is opened: a command line that can't mean anything changes nothing.
			switch {
			case all && len(ids) > 0:
				return errors.New("give --id or --all, not both")
			case !all && len(ids) == 0:
				return errors.New("say what to replay: --id ID (repeat it for several) or --all; passpush poison list shows the ids")
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			var replayed []poison.Message
			if all {
				replayed, err = b.Poison.ReplayAll(cmd.Context())
			} else {
				replayed, err = b.Poison.Replay(cmd.Context(), ids)
			}
			out := cmd.OutOrStdout()
			// What went back before a failure is reported too: it is off the poison topic now.
			for _, m := range replayed {
				fmt.Fprintf(out, "replayed %s (%s, offset %d) to %s\n", m.ID, orDash(m.Kind), m.Offset, m.Topic)
			}
			var unknown *poison.UnknownIDsError
			switch {
			case errors.As(err, &unknown):
				return fmt.Errorf("no poisoned message with id %s; nothing was replayed (passpush poison list shows the ids)",
					strings.Join(unknown.IDs, ", "))
			case err != nil && len(replayed) > 0:
				return fmt.Errorf("replayed %d messages, then: %w; run it again to replay the rest", len(replayed), err)
			case err != nil:
				return err
			case len(replayed) == 0 && all:
				fmt.Fprintln(out, "no poisoned messages")
			case len(replayed) == 0:
				// Between this replay's check and its transactions another one replayed them.
				fmt.Fprintln(out, "nothing replayed: another replay sent them back first")
			default:
				fmt.Fprintf(out, "replayed %d poisoned messages\n", len(replayed))
			}
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringSliceVar(&ids, "id", nil, "id of a message to replay, as poison list shows it; repeat it, or separate ids with commas, for several")
	flags.BoolVar(&all, "all", false, "replay every message on the poison topic")
	return cmd
}
