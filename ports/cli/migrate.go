package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations not yet applied",
		Long: `migrate applies the embedded schema migrations that the database lacks and exits. serve and the other
commands apply them too; run migrate on its own to upgrade the schema before rolling out a new version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			out := cmd.OutOrStdout()
			if len(b.Migrated) == 0 {
				fmt.Fprintf(out, "%s is up to date\n", describeDatabase(e.config.DatabaseURL))
				return nil
			}
			fmt.Fprintf(out, "applied %d migrations to %s: %v\n", len(b.Migrated), describeDatabase(e.config.DatabaseURL), b.Migrated)
			return nil
		},
	}
}
