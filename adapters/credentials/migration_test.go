package credentials_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/tenants"
)

func TestMigration7_movesTheTenantsWebhooksToCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, provider := sqldbtest.MigratedTo(ctx, t, 6)
	updated := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, row := range []struct{ id, url, secret string }{
		{"acme", "https://hooks.example.com/passpush?x=1&q=\"a\"", "whsec"},
		{"quiet", "", ""},
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (tenant_id, name, sfmc_signing_secrets, webhook_url, webhook_secret,
			disabled, created_at, updated_at) VALUES ($1, 'n', '["s"]', $2, $3, FALSE, $4, $4)`, row.id, row.url, row.secret, updated); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := sqldb.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	box := secretboxtest.New(t)
	store, err := credentials.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Get(ctx, "acme", credentials.KindWebhook, credentials.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	w, err := credentials.DecodeWebhook(c.Data)
	// The migration wrote the first form, {url, secret}, which is still read.
	if err != nil || w.URL != "https://hooks.example.com/passpush?x=1&q=\"a\"" || !slices.Equal(w.Secrets, []string{"whsec"}) {
		t.Errorf("moved webhook = %+v, %v", w, err)
	}
	if c.Revision <= 0 || !c.UpdatedAt.Equal(updated) {
		t.Errorf("moved webhook: revision %d updated at %s, want a positive revision and the tenant's %s", c.Revision, c.UpdatedAt, updated)
	}
	if _, err := store.Get(ctx, "quiet", credentials.KindWebhook, credentials.DefaultName); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("a tenant without a webhook got a credential: %v", err)
	}
	ts, err := tenants.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ts.Get(ctx, "acme")
	if err != nil || got.Webhook.URL != w.URL || !slices.Equal(got.Webhook.Secrets, []string{"whsec"}) {
		t.Errorf("tenant after the migration: webhook %+v, %v", got.Webhook, err)
	}

	// Down puts the webhooks back into the tenants table.
	if _, err := provider.DownTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	var url, secret string
	if err := db.QueryRowContext(ctx, `SELECT webhook_url, webhook_secret FROM tenants WHERE tenant_id = 'acme'`).Scan(&url, &secret); err != nil {
		t.Fatal(err)
	}
	if url != w.URL || secret != "whsec" {
		t.Errorf("after down: webhook %q %q", url, secret)
	}
	if err := db.QueryRowContext(ctx, `SELECT webhook_url, webhook_secret FROM tenants WHERE tenant_id = 'quiet'`).Scan(&url, &secret); err != nil || url != "" || secret != "" {
		t.Errorf("after down, the tenant without a webhook: %q %q %v", url, secret, err)
	}
}
