package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/domain/tenant"
)

func withSecrets(id string, secrets ...string) tenant.Tenant {
	return tenant.Tenant{ID: id, SFMCSigningSecrets: secrets, Activity: tenant.DefaultActivity, CreatedAt: at(1), UpdatedAt: at(1)}
}

func TestStore_refusesASigningSecretAnotherTenantHas(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	const shared = "shared-sfmc-secret-0001"
	if err := store.Save(ctx, withSecrets("acme", "acme-sfmc-secret-0001", shared)); err != nil {
		t.Fatal(err)
	}
	err := store.Save(ctx, withSecrets("globex", shared))
	if !errors.Is(err, tenant.ErrSigningSecretInUse) {
		t.Fatalf("second tenant with acme's secret: %v, want tenant.ErrSigningSecretInUse", err)
	}
	if strings.Contains(err.Error(), shared) || strings.Contains(err.Error(), "acme") {
		t.Errorf("the error names the secret or its tenant: %v", err)
	}
	if _, err := store.Get(ctx, "globex"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("the refused tenant was stored: %v", err)
	}
	// The tenant that has it may save it again; once it lets it go, another may take it.
	if err := store.Save(ctx, withSecrets("acme", shared)); err != nil {
		t.Fatalf("acme saved again with its own secret: %v", err)
	}
	if err := store.Save(ctx, withSecrets("acme", "acme-sfmc-secret-0002")); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, withSecrets("globex", shared)); err != nil {
		t.Errorf("globex with the secret acme gave up: %v", err)
	}
}

func TestStore_oneOfManyTenantsSavedAtOnceWithOneSecretGetsIt(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	box := secretboxtest.New(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// A store per tenant, as on as many instances.
			store, err := tenants.NewStore(db, box)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = store.Save(ctx, withSecrets(fmt.Sprintf("tenant-%d", i), "contended-sfmc-secret", fmt.Sprintf("own-sfmc-secret-%04d", i)))
		})
	}
	wg.Wait()
	saved := 0
	for i, err := range errs {
		switch {
		case err == nil:
			saved++
		case !errors.Is(err, tenant.ErrSigningSecretInUse):
			t.Errorf("tenant-%d: %v", i, err)
		}
	}
	if saved != 1 {
		t.Errorf("%d tenants were saved with the same secret, want 1", saved)
	}
}

func TestStore_keepsNoSigningSecretInClear(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	store, err := tenants.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Save(ctx, acme()); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.QueryRowContext(ctx, `SELECT sfmc_signing_secrets FROM tenants WHERE tenant_id = 'acme'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !secretbox.IsSealed(stored) || strings.Contains(stored, "sfmc-secret") {
		t.Errorf("stored signing secrets: %q", stored)
	}
	// A sealed list copied to another tenant's row does not open there.
	if err := store.Save(ctx, withSecrets("globex", "globex-sfmc-secret-01")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE tenants SET sfmc_signing_secrets = $1 WHERE tenant_id = 'globex'`, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "globex"); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Get of a tenant holding acme's sealed secrets: %v, want secretbox.ErrOpen", err)
	}
}
