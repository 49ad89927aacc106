package linkkeys_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/credentials"
	"github.com/passpush/passpush/adapters/linkkeys"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/installlink"
)

func TestKeys_madeOnceOnFirstUseAndSharedByInstances(t *testing.T) {
	ctx := context.Background()
	db := sqldbtest.New(t)
	store, err := credentials.NewStore(db, secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	newKeys := func() *linkkeys.Keys {
		k, err := linkkeys.New(store)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if _, err := newKeys().Existing(ctx, "acme"); !errors.Is(err, query.ErrNoLinkKey) {
		t.Fatalf("Existing before any link: %v, want ErrNoLinkKey", err)
	}

	// Instances making the tenant's first link at once agree on one key.
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := newKeys().Key(ctx, "acme")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != installlink.KeySize || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys differ: %x and %x", k, keys[0])
		}
	}
	if k, err := newKeys().Existing(ctx, "acme"); err != nil || !bytes.Equal(k, keys[0]) {
		t.Errorf("Existing = %x, %v", k, err)
	}
	c, err := store.Get(ctx, "acme", linkkeys.Kind, linkkeys.Name)
	if err != nil || c.Revision == 0 {
		t.Fatalf("the stored credential: %+v, %v", c, err)
	}
	if other, err := newKeys().Key(ctx, "globex"); err != nil || bytes.Equal(other, keys[0]) {
		t.Errorf("globex's key = %x, %v: want its own", other, err)
	}
}
