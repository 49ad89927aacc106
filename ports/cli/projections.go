package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func newProjectionsCommand(e *env) *cobra.Command {
	projections := &cobra.Command{
		Use:   "projections",
		Short: "Manage the read models built from the event store",
	}
	projections.AddCommand(&cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild the passes read model and the audit log from the event store",
		Long: `rebuild empties the passes read model and the audit log and replays every event of the event store into
them, in one transaction: readers see the old ones until it commits. The delivery queue is not replayed, so
nothing is delivered again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			start := time.Now()
			applied, err := b.RebuildProjections(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rebuilt the passes read model and the audit log: applied %d events in %s\n", applied, time.Since(start).Round(time.Millisecond))
			return nil
		},
	})
	return projections
}
