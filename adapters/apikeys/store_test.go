package apikeys_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/apikeys"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/tenant"
)

func newKey(t *testing.T, tenantID, name string, fill byte) (tenant.APIKey, string) {
	t.Helper()
	k, key, err := tenant.NewAPIKey(tenantID, name, bytes.NewReader(bytes.Repeat([]byte{fill}, 32)), time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return k, key
}

func TestStore_keepsKeysPerTenantByHash(t *testing.T) {
	t.Parallel()
	store, err := apikeys.NewStore(sqldbtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acmeCRM, acmeKey := newKey(t, "acme", "crm", 1)
	otherCRM, _ := newKey(t, "other", "crm", 2)
	acmeJob, _ := newKey(t, "acme", "job", 3)
	for _, k := range []tenant.APIKey{acmeCRM, otherCRM, acmeJob} {
		if err := store.Add(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := newKey(t, "acme", "crm", 4)
	if err := store.Add(ctx, again); !errors.Is(err, tenant.ErrAPIKeyExists) {
		t.Fatalf("a second key named crm: %v", err)
	}

	got, err := store.ByHash(ctx, tenant.HashAPIKey(acmeKey))
	if err != nil || got != acmeCRM {
		t.Fatalf("ByHash: %+v, %v; want %+v", got, err, acmeCRM)
	}
	if _, err := store.ByHash(ctx, tenant.HashAPIKey(acmeKey+"0")); !errors.Is(err, tenant.ErrAPIKeyNotFound) {
		t.Fatalf("an unknown hash: %v", err)
	}
	list, err := store.List(ctx, "acme")
	if err != nil || len(list) != 2 || list[0] != acmeCRM || list[1] != acmeJob {
		t.Fatalf("acme's keys: %+v, %v", list, err)
	}

	if err := store.Remove(ctx, "other", "job"); !errors.Is(err, tenant.ErrAPIKeyNotFound) {
		t.Fatalf("removing another tenant's key: %v", err)
	}
	if err := store.Remove(ctx, "acme", "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ByHash(ctx, tenant.HashAPIKey(acmeKey)); !errors.Is(err, tenant.ErrAPIKeyNotFound) {
		t.Fatalf("a removed key: %v", err)
	}
	if list, _ := store.List(ctx, "other"); len(list) != 1 || list[0] != otherCRM {
		t.Fatalf("other's keys after acme's removal: %+v", list)
	}
}
