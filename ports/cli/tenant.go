package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/spf13/cobra"
)

func newTenantCommand(e *env) *cobra.Command {
	tenants := &cobra.Command{
		Use:   "tenant",
		Short: "Add, change and list tenants (SFMC business units)",
	}
	tenants.AddCommand(newTenantAddCommand(e), newTenantUpdateCommand(e), newTenantListCommand(e))
	tenants.AddCommand(newTenantKeyCommand(e))
	return tenants
}

// tenantFlags are the flags add and update share.
type tenantFlags struct {
	name, webhookURL, webhookSecret, retireWebhookSecret string
	signingSecrets                                       []string
	disabled                                             bool
	activity                                             tenant.Activity
}

func (f *tenantFlags) register(cmd *cobra.Command, withDisabled bool) {
	flags := cmd.Flags()
	// StringArray, not StringSlice: a secret may contain a comma.
	flags.StringArrayVar(&f.signingSecrets, "sfmc-signing-secret", nil,
		"JWT signing secret of the installed SFMC package; repeat it to accept several during a rotation (sets the whole list)")
	flags.StringVar(&f.name, "name", "", "display name")
	flags.StringVar(&f.webhookURL, "webhook-url", "", "https URL pass updates are POSTed to; empty removes it (http:// only to a loopback host, with PASSPUSH_ALLOW_INSECURE_WEBHOOKS=true)")
	flags.StringVar(&f.webhookSecret, "webhook-secret", "", fmt.Sprintf("adds a secret the webhook requests are signed with; at most %d are kept, each signs every request during a rotation", tenant.MaxWebhookSecrets))
	if withDisabled {
		flags.StringVar(&f.retireWebhookSecret, "retire-webhook-secret", "", "removes a webhook secret, once the receiver checks the new one; the last one stays while a webhook URL is set")
	}
	flags.StringVar(&f.activity.Key, "sfmc-activity-key", "", "key of the Journey Builder Activity component of the installed package (config.json's key)")
	flags.StringVar(&f.activity.SplitKey, "sfmc-split-key", "", "key of the \"Wallet pass?\" split's Journey Builder Activity component of the installed package (the passcheck config.json's key)")
	flags.IntVar(&f.activity.TimeoutMS, "activity-timeout", tenant.DefaultActivity.TimeoutMS, "execute timeout Journey Builder applies, in ms (1000-100000)")
	flags.IntVar(&f.activity.RetryCount, "activity-retry-count", tenant.DefaultActivity.RetryCount, "how often Journey Builder retries a failed execute (0-5)")
	flags.IntVar(&f.activity.RetryDelayMS, "activity-retry-delay", tenant.DefaultActivity.RetryDelayMS, "wait between execute retries, in ms (0-10000)")
	flags.IntVar(&f.activity.ConcurrentRequests, "activity-concurrent-requests", tenant.DefaultActivity.ConcurrentRequests, "execute calls Journey Builder makes at once (1-50)")
	if withDisabled {
		flags.BoolVar(&f.disabled, "disabled", false, "disable (true) or enable (false) the tenant: a disabled tenant gets 404 unknown_tenant")
	}
}

// changes holds only the flags the user gave, so update leaves everything else as it is.
func (f *tenantFlags) changes(cmd *cobra.Command) tenant.Changes {
	var c tenant.Changes
	changed := cmd.Flags().Changed
	if changed("name") {
		c.Name = &f.name
	}
	if changed("sfmc-signing-secret") {
		c.SFMCSigningSecrets = append([]string{}, f.signingSecrets...)
	}
	if changed("webhook-url") {
		c.WebhookURL = &f.webhookURL
	}
	if changed("webhook-secret") {
		c.WebhookSecret = &f.webhookSecret
	}
	if changed("retire-webhook-secret") {
		c.RetireWebhookSecret = &f.retireWebhookSecret
	}
	if changed("disabled") {
		c.Disabled = &f.disabled
	}
	for flag, set := range map[string]func(){
		"sfmc-activity-key":            func() { c.ActivityKey = &f.activity.Key },
		"sfmc-split-key":               func() { c.ActivitySplitKey = &f.activity.SplitKey },
		"activity-timeout":             func() { c.ActivityTimeoutMS = &f.activity.TimeoutMS },
		"activity-retry-count":         func() { c.ActivityRetryCount = &f.activity.RetryCount },
		"activity-retry-delay":         func() { c.ActivityRetryDelayMS = &f.activity.RetryDelayMS },
		"activity-concurrent-requests": func() { c.ActivityConcurrentRequests = &f.activity.ConcurrentRequests },
	} {
		if changed(flag) {
			set()
		}
	}
	return c
}

func newTenantAddCommand(e *env) *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "add ID --sfmc-signing-secret SECRET [--name NAME] [--webhook-url URL --webhook-secret SECRET]",
		Short: "Add a tenant",
		Long: `add creates a tenant. ID is 1-64 letters, digits, _ or -; it is the {tenantId} of the tenant's routes.
At least one --sfmc-signing-secret is required.

Flags are visible to other users of the machine (ps); on a shared host, pass secrets through a shell variable
read from a protected file.`,
		Example: `  passpush tenant add acme --name "ACME" --sfmc-signing-secret "$SFMC_SECRET"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.saveTenant(cmd, args[0], f.changes(cmd), command.CreateOnly)
		},
	}
	f.register(cmd, false)
	_ = cmd.MarkFlagRequired("sfmc-signing-secret")
	return cmd
}

func newTenantUpdateCommand(e *env) *cobra.Command {
	var f tenantFlags
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a tenant: only the flags given change",
		Long: `update changes the flags given and keeps everything else. --sfmc-signing-secret replaces the whole list:
to rotate, give the old and the new secret, then later only the new one.

--webhook-secret adds a webhook secret and --retire-webhook-secret removes one: every request carries a
signature for each secret kept (at most ` + fmt.Sprint(tenant.MaxWebhookSecrets) + `). To rotate, add the new secret, move the receiver to it, then
retire the old one.`,
		Example: `  passpush tenant update acme --sfmc-signing-secret "$OLD" --sfmc-signing-secret "$NEW"
  passpush tenant update acme --webhook-secret "$NEW_WEBHOOK_SECRET"
  passpush tenant update acme --retire-webhook-secret "$OLD_WEBHOOK_SECRET"
  passpush tenant update acme --disabled=true`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.changes(cmd)
			if c.Empty() {
				return errors.New("nothing to change: give at least one flag, e.g. --name, --sfmc-signing-secret, --webhook-url, --sfmc-activity-key or --disabled")
			}
			return e.saveTenant(cmd, args[0], c, command.UpdateOnly)
		},
	}
	f.register(cmd, true)
	return cmd
}

func (e *env) saveTenant(cmd *cobra.Command, id string, changes tenant.Changes, mode command.SaveMode) error {
	b, err := e.openBackend(cmd.Context())
	if err != nil {
		return err
	}
	defer e.closeBackend(b)
	t, created, err := b.App.Commands.SaveTenant.Handle(cmd.Context(), command.SaveTenant{TenantID: id, Changes: changes, Mode: mode, Actor: cliActor(cmd)})
	switch {
	case errors.Is(err, command.ErrTenantExists):
		return fmt.Errorf("tenant %s already exists; change it with: passpush tenant update %s", id, id)
	case errors.Is(err, tenant.ErrNotFound):
		return fmt.Errorf("no tenant %s; add it with: passpush tenant add %s --sfmc-signing-secret …", id, id)
	case err != nil:
		return err
	}
	verb := "updated"
	if created {
		verb = "added"
	}
	e.log.WithField("tenant", t.ID).Info("tenant " + verb)
	fmt.Fprintf(cmd.OutOrStdout(), "%s tenant %s (%d SFMC signing secrets, %d webhook secrets, disabled: %t)\n", verb, t.ID,
		len(t.SFMCSigningSecrets), len(t.Webhook.Secrets), t.Disabled)
	return nil
}

func newTenantListCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tenants; secrets are never shown, only counted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			ts, err := b.App.Queries.ListTenants.Handle(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSIGNING SECRETS\tWEBHOOK URL\tACTIVITY KEY\tSPLIT KEY\tGOOGLE ISSUER\tGOOGLE SERVICE ACCOUNT\tGOOGLE RATE\tDISABLED")
			for _, t := range ts {
				google, err := googleColumns(b, cmd, t.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%t\n", t.ID, orDash(t.Name), len(t.SFMCSigningSecrets), orDash(maskedURL(t.Webhook.URL)),
					orDash(t.Activity.Key), orDash(t.Activity.SplitKey), google, t.Disabled)
			}
			return w.Flush()
		},
	}
}

// orDash keeps a table cell visible when empty and one line when the value holds tabs, newlines or control
// characters.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// maskedURL shows a webhook URL with what can be a credential in it masked, or nothing when there is none.
func maskedURL(raw string) string {
	if raw == "" {
		return ""
	}
	return tenant.MaskURL(raw)
}
