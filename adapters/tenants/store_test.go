package tenants_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/adapters/tenants"
	"github.com/passpush/passpush/domain/tenant"
)

func newStore(t *testing.T) *tenants.Store {
	t.Helper()
	store, err := tenants.NewStore(sqldbtest.New(t), secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// at is a time with microseconds, the precision both back ends keep, in a zone other than UTC.
func at(minute int) time.Time {
	return time.Date(2026, 5, 6, 7, minute, 9, 123456000, time.FixedZone("CEST", 2*3600))
}

func acme() tenant.Tenant {
	return tenant.Tenant{
		ID:                 "acme",
		Name:               "ACME Corp — BU 7",
		SFMCSigningSecrets: []string{"old-sfmc-secret-of-acme", "new-sfmc-secret-of-acme"},
		Webhook:            tenant.Webhook{URL: "https://hooks.example.com/passpush?x=1", Secrets: []string{"whsec"}},
		Activity:           tenant.Activity{Key: "component-key", TimeoutMS: 30000, RetryCount: 0, RetryDelayMS: 250, ConcurrentRequests: 7},
		CreatedAt:          at(1),
		UpdatedAt:          at(2),
	}
}

// assertSameTenant compares every field; times with Equal, since the back end hands them back in UTC.
func assertSameTenant(t *testing.T, got, want tenant.Tenant) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("tenant %s: created %s updated %s, want %s and %s", want.ID, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tenant:\n got %+v\nwant %+v", got, want)
	}
}

func TestStore_savesAndReadsEveryField(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	full := acme()
	minimal := tenant.Tenant{ID: "0-minimal", SFMCSigningSecrets: []string{"sfmc-secret-of-0-minimal"}, Disabled: true, CreatedAt: at(3), UpdatedAt: at(3)}
	for _, tn := range []tenant.Tenant{full, minimal} {
		if err := store.Save(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []tenant.Tenant{full, minimal} {
		got, err := store.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSameTenant(t, got, want)
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("created at is in %s, want UTC", got.CreatedAt.Location())
		}
	}
	list, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List returned %d tenants, want 2", len(list))
	}
	// Ordered by id, disabled tenants included.
	assertSameTenant(t, list[0], minimal)
	assertSameTenant(t, list[1], full)
}

func TestStore_saveReplacesTheTenant(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	if err := store.Save(ctx, acme()); err != nil {
		t.Fatal(err)
	}
	changed := acme()
	changed.Name = ""
	changed.SFMCSigningSecrets = []string{"rotated-sfmc-secret-of-acme"}
	changed.Webhook = tenant.Webhook{}
	changed.Disabled = true
	changed.Activity = tenant.DefaultActivity
	changed.UpdatedAt = at(30)
	if err := store.Save(ctx, changed); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	assertSameTenant(t, got, changed)
	if list, err := store.List(ctx); err != nil || len(list) != 1 {
		t.Errorf("List = %d tenants, %v; want the one", len(list), err)
	}
}

func TestStore_unknownTenantIsNotFound(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	if _, err := store.Get(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Get(unknown) err = %v, want tenant.ErrNotFound", err)
	}
	list, err := store.List(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("List of no tenants = %v, %v", list, err)
	}
	if err := store.Save(ctx, acme()); err != nil {
		t.Fatal(err)
	}
	// Ids are exact: no case folding, no prefix match.
	for _, id := range []string{"ACME", "acm", "acme "} {
		if _, err := store.Get(ctx, id); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("Get(%q) err = %v, want tenant.ErrNotFound", id, err)
		}
	}
}

func TestStore_keepsTheWebhookAsAChannelCredential(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	box := secretboxtest.New(t)
	store, err := tenants.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := credentials.NewStore(db, box)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	webhook := func() (credentials.Credential, error) {
		return creds.Get(ctx, "acme", credentials.KindWebhook, credentials.DefaultName)
	}

	if err := store.Save(ctx, acme()); err != nil {
		t.Fatal(err)
	}
	stored, err := webhook()
	if err != nil {
		t.Fatal(err)
	}
	if w, err := credentials.DecodeWebhook(stored.Data); err != nil || !reflect.DeepEqual(w, credentials.Webhook{URL: acme().Webhook.URL, Secrets: []string{"whsec"}}) {
		t.Errorf("webhook credential = %+v, %v", w, err)
	}

	// Saving the tenant's other fields leaves the webhook's revision alone, so its client is not rebuilt.
	renamed := acme()
	renamed.Name = "renamed"
	if err := store.Save(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	if again, err := webhook(); err != nil || again.Revision != stored.Revision {
		t.Errorf("after a rename the webhook's revision is %d (%v), want %d", again.Revision, err, stored.Revision)
	}
	// A new secret is a new revision.
	rotated := renamed
	rotated.Webhook.Secrets = []string{"whsec", "rotated"}
	if err := store.Save(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	if again, err := webhook(); err != nil || again.Revision == stored.Revision {
		t.Errorf("after a new secret the webhook's revision is %d (%v), want a new one", again.Revision, err)
	}

	// No URL, no credential.
	cleared := rotated
	cleared.Webhook = tenant.Webhook{}
	if err := store.Save(ctx, cleared); err != nil {
		t.Fatal(err)
	}
	if _, err := webhook(); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("webhook credential of a tenant without a webhook: err = %v, want ErrNotFound", err)
	}
	got, err := store.Get(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	assertSameTenant(t, got, cleared)
}

func TestStore_savesTheTenantAndItsWebhookInOneTransaction(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	store, err := tenants.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	abort := errors.New("abort")
	err = sqldb.InTx(ctx, db, func(ctx context.Context, _ *sql.Tx) error {
		if err := store.Save(ctx, acme()); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("InTx err = %v", err)
	}
	if _, err := store.Get(ctx, "acme"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Get of a rolled back save err = %v, want tenant.ErrNotFound", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM channel_credentials`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d credentials after a rolled back save (%v), want 0", n, err)
	}
}
