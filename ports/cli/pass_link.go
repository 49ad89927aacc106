package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/installlink"
	"github.com/passpush/passpush/domain/pass"
	"github.com/spf13/cobra"
)

func newPassLinkCommand(e *env) *cobra.Command {
	var (
		tenantID string
		ttl      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "link --tenant ID PASS_ID [--ttl 720h]",
		Short: "Print a link that downloads the pass into Apple Wallet, valid for --ttl",
		Long: `Prints an install link of the pass: anyone who opens it on an iPhone before it expires gets the pass,
built from its current data and its type's latest template. The link is signed with the tenant's link key,
made on first use. It needs PASSPUSH_PUBLIC_URL.

When the tenant has Google settings and a class for the pass's type, a second line is the pass's
"Add to Google Wallet" link, signed with the service account's key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.config.PublicURL == "" {
				return errors.New("PASSPUSH_PUBLIC_URL (--public-url) must be set: the link is made of it")
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			link, err := b.App.Commands.MakeInstallLink.Handle(cmd.Context(), command.MakeInstallLink{TenantID: tenantID, PassID: args[0], TTL: ttl})
			if errors.Is(err, pass.ErrNotFound) {
				return fmt.Errorf("tenant %s has no pass %s", tenantID, args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(e.config.PublicURL, "/")+link.ApplePath)
			google, err := b.App.Queries.GoogleSaveLink.Handle(cmd.Context(), query.GoogleSaveLink{TenantID: tenantID, PassID: args[0]})
			if err != nil {
				return err
			}
			if google != "" {
				fmt.Fprintln(cmd.OutOrStdout(), google)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "the link expires at %s\n", link.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id")
	cmd.Flags().DurationVar(&ttl, "ttl", installlink.DefaultTTL, "how long the link works")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}
