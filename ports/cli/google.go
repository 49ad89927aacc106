package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/spf13/cobra"
)

func newGoogleCommand(e *env) *cobra.Command {
	google := &cobra.Command{
		Use:   "google",
		Short: "Set a tenant's Google Wallet settings and its classes",
	}
	google.AddCommand(newGoogleSetCommand(e), newGoogleClassCommand(e))
	return google
}

func newGoogleSetCommand(e *env) *cobra.Command {
	var (
		tenantID, issuerID, keyFile string
		rate                        float64
	)
	cmd := &cobra.Command{
		Use:   "set --tenant T --issuer-id ID --service-account-file KEY.json [--rate 20]",
		Short: "Set (or replace) a tenant's Google Wallet issuer, service account and rate",
		Long: `Sets the tenant's Google Wallet settings: the issuer id of the Google Pay & Wallet Console, the key file of
the service account that calls the Wallet API for it (a JSON key as Google hands it out), and the requests a
second its calls are held to. Refused: a key file whose private_key is not an RSA key, or that has no
client_email or token_uri. The key is kept as a channel credential and never printed.`,
		Example: `  passpush google set --tenant acme --issuer-id 3388000000012345678 --service-account-file acme-wallet.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--service-account-file: %w", err)
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			info, err := b.App.Commands.PutGoogleSettings.Handle(cmd.Context(), command.PutGoogleSettings{
				TenantID: tenantID, IssuerID: issuerID, ServiceAccount: key, Rate: rate, Actor: cliActor(cmd),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the Google settings of tenant %s: issuer %s, service account %s, %g requests/s\n",
				tenantID, info.IssuerID, info.ServiceAccountEmail, info.Rate)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&tenantID, "tenant", "", "tenant id")
	flags.StringVar(&issuerID, "issuer-id", "", "the issuer id of the Google Pay & Wallet Console")
	flags.StringVar(&keyFile, "service-account-file", "", "the service account's JSON key file")
	flags.Float64Var(&rate, "rate", 0, "requests a second the tenant's calls to the Wallet API are held to (0: the default, 20)")
	for _, f := range []string{"tenant", "issuer-id", "service-account-file"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newGoogleClassCommand(e *env) *cobra.Command {
	var tenantID, passType, objectType, classID, templateFile string
	cmd := &cobra.Command{
		Use:   "class --tenant T --pass-type TYPE --object-type generic|loyalty|offer|giftCard|eventTicket --class-id ISSUER.SUFFIX --template OBJECT.json",
		Short: "Set (or replace) a tenant's Google Wallet class for a pass type",
		Long: `Sets the class the passes of a type are saved in: the type of their objects, the class's id (the tenant's
issuer id, a dot and a suffix of letters, digits, '.', '_' or '-'; the class itself is made in the Google Pay &
Wallet Console or through the API), and the template of their objects: a JSON object of that type without id
and classId. {{name}} in its strings takes the pass's data (passId, email and customId are always known); data
that no placeholder names is shown as text modules.`,
		Example: `  passpush google class --tenant acme --pass-type loyalty --object-type loyalty \
    --class-id 3388000000012345678.acme_loyalty --template examples/google-class/loyalty.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			template, err := os.ReadFile(templateFile)
			if err != nil {
				return fmt.Errorf("--template: %w", err)
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			info, err := b.App.Commands.PutGoogleClass.Handle(cmd.Context(), command.PutGoogleClass{
				TenantID: tenantID, PassType: passType, ObjectType: objectType, ClassID: classID, Template: template,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the Google class of pass type %s of tenant %s: %s objects of class %s\n",
				info.PassType, tenantID, info.ObjectType, info.ClassID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&tenantID, "tenant", "", "tenant id")
	flags.StringVar(&passType, "pass-type", "", "the passes' passType")
	flags.StringVar(&objectType, "object-type", "", "the objects' type: "+strings.Join(googlepass.ObjectTypes, ", "))
	flags.StringVar(&classID, "class-id", "", "the class's id: ISSUER_ID.SUFFIX")
	flags.StringVar(&templateFile, "template", "", "a JSON file: the object template")
	for _, f := range []string{"tenant", "pass-type", "object-type", "class-id", "template"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// googleColumns are a tenant's Google settings as tenant list shows them: issuer, service account and rate, or
// dashes.
func googleColumns(b *Backend, cmd *cobra.Command, tenantID string) (string, error) {
	info, err := b.App.Queries.GoogleSettings.Handle(cmd.Context(), query.GoogleSettings{TenantID: tenantID})
	if errors.Is(err, push.ErrNotSetUp) {
		return "-\t-\t-", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s\t%s\t%g", orDash(info.IssuerID), orDash(info.ServiceAccountEmail), info.Rate), nil
}
