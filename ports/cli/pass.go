package cli

import "github.com/spf13/cobra"

func newPassCommand(e *env) *cobra.Command {
	passes := &cobra.Command{
		Use:   "pass",
		Short: "Import and read wallet passes",
	}
	passes.AddCommand(newPassImportCommand(e), newPassGetCommand(e), newPassLinkCommand(e))
	return passes
}
