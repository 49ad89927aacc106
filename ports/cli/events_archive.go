package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// ArchiveResult is what an archive run did: how many events the file holds, how many this run deleted from the
// store, and whether it finished the deletes of a file an earlier run wrote.
type ArchiveResult struct {
	Archived, Deleted int
	Resumed           bool
}

func newEventsArchiveCommand(e *env) *cobra.Command {
	var before, output string
	cmd := &cobra.Command{
		Use:   "archive --before DATE --output FILE.jsonl.gz",
		Short: "Move the events older than DATE out of the event store into a gzip file of JSON lines",
		Long: `archive writes the events that occurred before DATE (2026-01-31 or an RFC 3339 time, UTC) to FILE, one JSON
object a line in store order, gzip-compressed, syncs the file, and only then deletes those events from the store,
a thousand at a time. A line is {"position","type","occurredAt","streamId","journeyId","passId","correlationId",
"data","tenantId","eventId"}.

It takes only events that nothing needs any more: a pass's events that its snapshot covers, that every projection
has handled, and that no pending delivery refers to. Tenants', lifecycle calls' and skips' events stay. The audit
log keeps its rows, and a pass whose first events are archived still loads, takes updates, and keeps its read
model through projections rebuild.

A run that stops before FILE is complete deletes nothing; run it again. A run that stops while deleting leaves
FILE complete: run it again with the same --output, and it deletes what FILE holds and the store still has, and
archives nothing more. Run it with a new --output to archive what came since.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cutoff, err := parseArchiveBefore(before)
			if err != nil {
				return err
			}
			if output == "" {
				return errors.New("--output is required: the gzip file to write, such as events-2026-01.jsonl.gz")
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			start := time.Now()
			res, err := b.ArchiveEvents(cmd.Context(), cutoff, output)
			if err != nil {
				return err
			}
			took := time.Since(start).Round(time.Millisecond)
			switch {
			case res.Resumed:
				fmt.Fprintf(cmd.OutOrStdout(), "%s was complete: deleted %d of its %d events still in the store, in %s\n", output, res.Deleted, res.Archived, took)
			case res.Archived == 0:
				fmt.Fprintf(cmd.OutOrStdout(), "no event before %s can be archived yet; wrote nothing\n", cutoff.Format(time.RFC3339))
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "archived %d events to %s and deleted %d from the store, in %s\n", res.Archived, output, res.Deleted, took)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&before, "before", "", "archive the events that occurred before this date (2026-01-31) or RFC 3339 time")
	cmd.Flags().StringVar(&output, "output", "", "the gzip JSON lines file to write")
	return cmd
}

func parseArchiveBefore(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("--before is required: a date (2026-01-31) or RFC 3339 time")
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--before %q is neither a date (2026-01-31) nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
