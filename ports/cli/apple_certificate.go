package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/spf13/cobra"
)

func newAppleCommand(e *env) *cobra.Command {
	apple := &cobra.Command{
		Use:   "apple",
		Short: "A tenant's Apple Wallet settings",
	}
	certificates := &cobra.Command{
		Use:   "certificate",
		Short: "Add and list a tenant's Pass Type ID certificates, one per Pass Type ID",
	}
	certificates.AddCommand(newAppleCertificateAddCommand(e), newAppleCertificateListCommand(e))
	apple.AddCommand(certificates)
	return apple
}

func newAppleCertificateAddCommand(e *env) *cobra.Command {
	var tenantID, p12File, passwordFile, certFile, keyFile, wwdrFile string
	cmd := &cobra.Command{
		Use:   "add --tenant T (--p12 FILE [--p12-password-file F] | --cert FILE --key FILE) --wwdr FILE",
		Short: "Add (or replace) a Pass Type ID certificate of a tenant",
		Long: `Adds a Pass Type ID certificate, from a .p12 (OpenSSL 3 and legacy files) or from the certificate and its
unencrypted private key in PEM, with Apple's WWDR intermediate certificate (G4, PEM or DER). The Pass Type ID
and the Team ID are read from the certificate (subject UID and OU); a certificate of the same Pass Type ID is
replaced. Refused: a key that does not match, an expired certificate, one that is not a Pass Type ID
certificate. A warning is printed when it expires within 30 days.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var files command.AppleCertificateFiles
			read := func(flag, path string) ([]byte, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("--%s: %w", flag, err)
				}
				return b, nil
			}
			var err error
			switch {
			case p12File != "" && (certFile != "" || keyFile != ""):
				return fmt.Errorf("give either --p12 or --cert and --key, not both")
			case p12File != "":
				if files.P12, err = read("p12", p12File); err != nil {
					return err
				}
				if passwordFile != "" {
					pw, err := read("p12-password-file", passwordFile)
					if err != nil {
						return err
					}
					files.P12Password = strings.TrimRight(string(pw), "\r\n")
				}
			case certFile != "" && keyFile != "":
				if files.CertificatePEM, err = read("cert", certFile); err != nil {
					return err
				}
				if files.PrivateKeyPEM, err = read("key", keyFile); err != nil {
					return err
				}
			default:
				return fmt.Errorf("give --p12, or --cert and --key")
			}
			if files.WWDR, err = read("wwdr", wwdrFile); err != nil {
				return err
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			info, err := b.App.Commands.AddAppleCertificate.Handle(cmd.Context(), command.AddAppleCertificate{TenantID: tenantID, Files: files, Actor: cliActor(cmd)})
			if err != nil {
				return err
			}
			if info.Warning != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", info.Warning)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added the certificate of %s (team %s, expires %s) to tenant %s\n",
				info.PassTypeID, info.TeamID, info.NotAfter.Format(time.RFC3339), tenantID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&tenantID, "tenant", "", "tenant id")
	flags.StringVar(&p12File, "p12", "", "the certificate and its key as a .p12 file")
	flags.StringVar(&passwordFile, "p12-password-file", "", "a file holding the .p12's password (none when absent)")
	flags.StringVar(&certFile, "cert", "", "the certificate, PEM")
	flags.StringVar(&keyFile, "key", "", "its private key, unencrypted PEM")
	flags.StringVar(&wwdrFile, "wwdr", "", "Apple's WWDR intermediate certificate (G4), PEM or DER")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("wwdr")
	return cmd
}

func newAppleCertificateListCommand(e *env) *cobra.Command {
	var tenantID string
	cmd := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's Pass Type ID certificates: Pass Type ID, team, subject and expiry (never a key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			cs, err := b.App.Queries.AppleCertificates.Handle(cmd.Context(), query.AppleCertificates{TenantID: tenantID})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PASS TYPE ID\tTEAM\tEXPIRES\tSUBJECT")
			for _, c := range cs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.PassTypeID, c.TeamID, c.NotAfter.Format(time.RFC3339), c.Subject)
				if c.Warning != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", c.Warning)
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}
