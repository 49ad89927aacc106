package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newSecretsCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the key the stored secrets are encrypted with",
	}
	cmd.AddCommand(newRotateKeyCommand(e))
	return cmd
}

func newRotateKeyCommand(e *env) *cobra.Command {
	var newKeyFile string
	cmd := &cobra.Command{
		Use:   "rotate-key --new-key-file FILE",
		Short: "Re-encrypt every stored secret with a new key, in one transaction",
		Long: `rotate-key re-encrypts every secret stored in the database (SFMC signing secrets, webhook secrets, Apple
and Google keys, link keys) with the key in FILE (base64 of 32 random bytes), in one transaction. The configured
keys (PASSPUSH_SECRET_KEY and PASSPUSH_SECRET_KEY_PREVIOUS) must open every stored secret.

To rotate: first restart every instance with PASSPUSH_SECRET_KEY(_FILE) set to the new key and
PASSPUSH_SECRET_KEY_PREVIOUS(_FILE) to the old one; they read secrets sealed with either. Then run rotate-key with
the same settings and --new-key-file naming the new key. Then restart the instances without the previous key.`,
		Example: `  head -c 32 /dev/urandom | base64 > new.key
  PASSPUSH_SECRET_KEY_FILE=new.key PASSPUSH_SECRET_KEY_PREVIOUS_FILE=old.key passpush secrets rotate-key --new-key-file new.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			newKey, err := readSecretKeyFile("--new-key-file", newKeyFile)
			if err != nil {
				return err
			}
			// Sealing with a key the running instances lack would make every secret unreadable to them.
			if current, previous, _ := e.config.SecretKeys(); current != newKey || previous == "" {
				return errors.New("run every instance, and this command, with PASSPUSH_SECRET_KEY(_FILE) set to the new key and PASSPUSH_SECRET_KEY_PREVIOUS(_FILE) to the old one first: the instances must read the secrets sealed with either before they are all re-encrypted")
			}
			b, err := e.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer e.closeBackend(b)
			if err := b.RotateSecretKey(cmd.Context(), newKey); err != nil {
				return fmt.Errorf("rotate the secret key: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "re-encrypted every stored secret with the new key; PASSPUSH_SECRET_KEY_PREVIOUS can now be removed from every instance")
			return nil
		},
	}
	cmd.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new key, base64 of 32 random bytes")
	_ = cmd.MarkFlagRequired("new-key-file")
	return cmd
}
