package credentials_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

func newStore(t *testing.T) (*credentials.Store, *sqldb.DB) {
	t.Helper()
	db := sqldbtest.New(t)
	store, err := credentials.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return store, db
}

func put(t *testing.T, store *credentials.Store, tenantID, kind, name, data string) credentials.Credential {
	t.Helper()
	ctx := context.Background()
	if err := store.Put(ctx, tenantID, kind, name, []byte(data)); err != nil {
		t.Fatal(err)
	}
	c, err := store.Get(ctx, tenantID, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStore_putGetListDelete(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := contracttest.Context(t)
	before := time.Now().Add(-time.Second)

	b := put(t, store, "acme", "apple", "pass.com.acme.b", `{"p12":"b"}`)
	a := put(t, store, "acme", "apple", "pass.com.acme.a", `{"p12":"a"}`)
	put(t, store, "acme", "webhook", "default", `{"url":"https://x","secret":"s"}`)

	if b.TenantID != "acme" || b.Kind != "apple" || b.Name != "pass.com.acme.b" || string(b.Data) != `{"p12":"b"}` {
		t.Errorf("Get = %+v", b)
	}
	if b.Revision <= 0 || b.UpdatedAt.Before(before) || b.UpdatedAt.Location() != time.UTC {
		t.Errorf("revision %d updated at %s: want a positive revision and a recent UTC time", b.Revision, b.UpdatedAt)
	}

	list, err := store.List(ctx, "acme", "apple")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(list, []credentials.Credential{a, b}) {
		t.Errorf("List = %+v, want the two apple credentials ordered by name", list)
	}

	// A put replaces the data and changes the revision.
	b2 := put(t, store, "acme", "apple", "pass.com.acme.b", `{"p12":"b2"}`)
	if string(b2.Data) != `{"p12":"b2"}` || b2.Revision <= b.Revision {
		t.Errorf("after a second put: data %s revision %d, want the new data and a revision above %d", b2.Data, b2.Revision, b.Revision)
	}

	if err := store.Delete(ctx, "acme", "apple", "pass.com.acme.b"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "acme", "apple", "pass.com.acme.b"); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("Get after Delete err = %v, want ErrNotFound", err)
	}
	if list, err := store.List(ctx, "acme", "apple"); err != nil || len(list) != 1 || list[0].Name != "pass.com.acme.a" {
		t.Errorf("List after Delete = %+v, %v; want only pass.com.acme.a", list, err)
	}
	// Deleting what is not stored is no error.
	if err := store.Delete(ctx, "acme", "apple", "pass.com.acme.b"); err != nil {
		t.Errorf("second Delete: %v", err)
	}

	// Put again after a delete: a revision the deleted credential never had, so a cached client is rebuilt.
	b3 := put(t, store, "acme", "apple", "pass.com.acme.b", `{"p12":"b3"}`)
	if b3.Revision == b2.Revision || b3.Revision == b.Revision {
		t.Errorf("revision after delete and put = %d, the same as before (%d, %d)", b3.Revision, b.Revision, b2.Revision)
	}
}

func TestStore_aTenantSeesOnlyItsOwnCredentials(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := contracttest.Context(t)
	put(t, store, "tenant-a", "webhook", "default", `{"url":"https://a","secret":"a"}`)

	if _, err := store.Get(ctx, "tenant-b", "webhook", "default"); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("tenant B's Get of A's credential err = %v, want ErrNotFound", err)
	}
	if list, err := store.List(ctx, "tenant-b", "webhook"); err != nil || len(list) != 0 {
		t.Errorf("tenant B's List = %+v, %v; want none", list, err)
	}
	// B's put and delete under the same kind and name leave A's row alone.
	put(t, store, "tenant-b", "webhook", "default", `{"url":"https://b","secret":"b"}`)
	if err := store.Delete(ctx, "tenant-b", "webhook", "default"); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "tenant-a", "webhook", "default")
	if err != nil || string(got.Data) != `{"url":"https://a","secret":"a"}` {
		t.Errorf("A's credential after B's put and delete = %s, %v", got.Data, err)
	}
	// Kinds are apart too.
	if _, err := store.Get(ctx, "tenant-a", "apple", "default"); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("Get of another kind err = %v, want ErrNotFound", err)
	}
}

var errAbort = errors.New("abort")

func TestStore_putAndDeleteJoinTheCallersTransaction(t *testing.T) {
	t.Parallel()
	store, db := newStore(t)
	ctx := contracttest.Context(t)
	put(t, store, "acme", "webhook", "old", `{}`)

	err := sqldb.InTx(ctx, db, func(ctx context.Context, _ *sql.Tx) error {
		if err := store.Put(ctx, "acme", "webhook", "new", []byte(`{}`)); err != nil {
			return err
		}
		if err := store.Delete(ctx, "acme", "webhook", "old"); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if _, err := store.Get(ctx, "acme", "webhook", "new"); err != nil {
			t.Errorf("Get in the transaction: %v", err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx err = %v", err)
	}
	if _, err := store.Get(ctx, "acme", "webhook", "old"); err != nil {
		t.Errorf("the rolled back delete removed the credential: %v", err)
	}
	if _, err := store.Get(ctx, "acme", "webhook", "new"); !errors.Is(err, credentials.ErrNotFound) {
		t.Errorf("the rolled back put stored the credential: %v", err)
	}
}

func TestWebhook_encodesAndDecodes(t *testing.T) {
	t.Parallel()
	w := credentials.Webhook{URL: "https://hooks.example.com/p?x=1&y=\"2\"", Secrets: []string{"whsec — ü", "next"}}
	data, err := credentials.EncodeWebhook(w)
	if err != nil {
		t.Fatal(err)
	}
	got, err := credentials.DecodeWebhook(data)
	if err != nil || !reflect.DeepEqual(got, w) {
		t.Errorf("DecodeWebhook(EncodeWebhook(w)) = %+v, %v; want %+v", got, err, w)
	}
	if strings.Contains(string(data), `"secret"`) {
		t.Errorf("the stored form %s holds the old single secret field", data)
	}
	// The form stored before rotations is still read, as a list of one.
	old, err := credentials.DecodeWebhook([]byte(`{"url":"https://hooks.example.com/p","secret":"whsec"}`))
	if err != nil || !reflect.DeepEqual(old, credentials.Webhook{URL: "https://hooks.example.com/p", Secrets: []string{"whsec"}}) {
		t.Errorf("DecodeWebhook of {url, secret} = %+v, %v", old, err)
	}
	if _, err := credentials.DecodeWebhook([]byte("not json")); err == nil {
		t.Error("DecodeWebhook of garbage: no error")
	}
}

// Create stores a credential only where there is none: the second of two creations keeps the first one's data.
func TestStore_createKeepsTheFirst(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	for i, data := range []string{"first", "second"} {
		created, err := store.Create(ctx, "t1", "link", "default", []byte(data))
		if err != nil || created != (i == 0) {
			t.Fatalf("create %q: created %v, %v; want created only the first time", data, created, err)
		}
	}
	c, err := store.Get(ctx, "t1", "link", "default")
	if err != nil || string(c.Data) != "first" {
		t.Errorf("after two creations: %q, %v; want the first", c.Data, err)
	}
	if created, err := store.Create(ctx, "t2", "link", "default", []byte("other")); err != nil || !created {
		t.Errorf("another tenant's creation: created %v, %v", created, err)
	}
}
