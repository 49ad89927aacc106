package cli

import (
	"fmt"
	"os"

	"github.com/passpush/passpush/app/command"
	"github.com/spf13/cobra"
)

func newTemplateCommand(e *env) *cobra.Command {
	templates := &cobra.Command{
		Use:   "template",
		Short: "A tenant's Apple Wallet pass templates, one per pass type",
	}
	templates.AddCommand(newTemplatePutCommand(e))
	return templates
}

func newTemplatePutCommand(e *env) *cobra.Command {
	var tenantID, passType string
	cmd := &cobra.Command{
		Use:   "put --tenant T --pass-type TYPE DIR|FILE.zip",
		Short: "Store a new version of the template of a pass type, from a folder or a zip",
		Long: `Stores a new version of the tenant's Apple Wallet template of a pass type (the pass registry's passType).
A template is a pass.json with exactly one style (storeCard, coupon, eventTicket, boardingPass or generic),
icon.png, optional images and *.lproj/ folders. Its passTypeIdentifier must have a certificate of the tenant
(passpush apple certificate add). The latest version applies to every pass built afterwards.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			put := command.PutAppleTemplate{TenantID: tenantID, PassType: passType}
			info, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			if info.IsDir() {
				put.Dir = args[0]
			} else if put.Zip, err = os.ReadFile(args[0]); err != nil {
				return err
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			res, err := b.App.Commands.PutAppleTemplate.Handle(cmd.Context(), put)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored version %d of the %s template of tenant %s (%s, %s)\n",
				res.Version, res.PassType, tenantID, res.PassTypeID, res.Style)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id")
	cmd.Flags().StringVar(&passType, "pass-type", "", "the pass type the template is for (the passes' passType)")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("pass-type")
	return cmd
}
