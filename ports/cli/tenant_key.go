package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/spf13/cobra"
)

func newTenantKeyCommand(e *env) *cobra.Command {
	keys := &cobra.Command{
		Use:   "key",
		Short: "Create, list and revoke a tenant's API keys",
		Long: `A tenant's API key opens that tenant's API (/api/{tenantId}/passes…, /api/{tenantId}/audit) and nothing
else: not another tenant's, not /api/admin. Only its SHA-256 is stored; the key is shown once, by create.`,
	}
	keys.AddCommand(newTenantKeyCreateCommand(e), newTenantKeyListCommand(e), newTenantKeyRevokeCommand(e))
	return keys
}

// cliActor is who the CLI's changes are recorded as made by.
func cliActor(cmd *cobra.Command) tenant.Actor {
	return tenant.Actor{Name: tenant.ActorCLI, Via: cmd.CommandPath()}
}

func newTenantKeyCreateCommand(e *env) *cobra.Command {
	var tenantID, name string
	cmd := &cobra.Command{
		Use:   "create --tenant ID [--name NAME]",
		Short: "Create an API key and print it, once",
		Long: `create makes a new API key for the tenant, pp_<tenant>_<64 hex digits>, and prints it on standard output. It
is not stored and cannot be shown again: keep it now. The name (default key-<8 hex digits>) is how list shows
the key and revoke names it.`,
		Example: `  passpush tenant key create --tenant acme --name crm-sync`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			k, err := b.App.Commands.CreateAPIKey.Handle(cmd.Context(), command.CreateAPIKey{
				TenantID: tenantID, Name: name, Actor: cliActor(cmd),
			})
			switch {
			case errors.Is(err, tenant.ErrNotFound):
				return fmt.Errorf("no tenant %s; add it with: passpush tenant add %s --sfmc-signing-secret …", tenantID, tenantID)
			case errors.Is(err, tenant.ErrAPIKeyExists):
				return fmt.Errorf("tenant %s already has a key named %s; choose another --name, or revoke it first", tenantID, name)
			case err != nil:
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created API key %s of tenant %s; it is shown once, keep it now:\n", k.Name, tenantID)
			fmt.Fprintln(cmd.OutOrStdout(), k.Key)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant the key opens")
	cmd.Flags().StringVar(&name, "name", "", "the key's name: 1-64 letters, digits, _, . or -")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

func newTenantKeyListCommand(e *env) *cobra.Command {
	var tenantID string
	cmd := &cobra.Command{
		Use:   "list --tenant ID",
		Short: "List a tenant's API keys: names and the start of each key's random part, never a key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			keys, err := b.App.Queries.ListAPIKeys.Handle(cmd.Context(), tenantID)
			if errors.Is(err, tenant.ErrNotFound) {
				return fmt.Errorf("no tenant %s", tenantID)
			} else if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tKEY\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s%s_%s…\t%s\n", k.Name, tenant.APIKeyPrefix, k.TenantID, k.Hint, k.CreatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant whose keys to list")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

func newTenantKeyRevokeCommand(e *env) *cobra.Command {
	var tenantID, name string
	cmd := &cobra.Command{
		Use:   "revoke --tenant ID --name NAME",
		Short: "Revoke an API key: it is refused on every instance from the next request on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			err = b.App.Commands.RevokeAPIKey.Handle(cmd.Context(), command.RevokeAPIKey{
				TenantID: tenantID, Name: name, Actor: cliActor(cmd),
			})
			if errors.Is(err, tenant.ErrAPIKeyNotFound) {
				return fmt.Errorf("tenant %s has no API key named %s; see: passpush tenant key list --tenant %s", tenantID, name, tenantID)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked API key %s of tenant %s\n", name, tenantID)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "the tenant the key belongs to")
	cmd.Flags().StringVar(&name, "name", "", "the key's name, as list shows it")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
