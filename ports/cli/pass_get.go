package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/spf13/cobra"
)

func newPassGetCommand(e *env) *cobra.Command {
	var tenantID string
	cmd := &cobra.Command{
		Use:   "get --tenant ID PASS_ID",
		Short: "Print a pass as the passes read model shows it, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			p, err := b.App.Queries.PassByID.Handle(cmd.Context(), query.PassByID{TenantID: tenantID, PassID: args[0]})
			if errors.Is(err, pass.ErrNotFound) {
				return fmt.Errorf("tenant %s has no pass %s", tenantID, args[0])
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}
