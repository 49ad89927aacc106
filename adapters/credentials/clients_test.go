package credentials

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

// fakeClient is a client built from a credential, that records being closed.
type fakeClient struct {
	data     string
	revision int64
	closed   atomic.Bool
}

func (f *fakeClient) Close() error {
	f.closed.Store(true)
	return nil
}

// builder builds fakeClients and counts them.
type builder struct {
	builds atomic.Int32
	fail   atomic.Bool
}

func (b *builder) build(c Credential) (*fakeClient, error) {
	b.builds.Add(1)
	if b.fail.Load() {
		return nil, errors.New("bad credential")
	}
	return &fakeClient{data: string(c.Data), revision: c.Revision}, nil
}

func newClients(t *testing.T, cfg ClientsConfig) (*Clients[*fakeClient], *Store, *builder) {
	t.Helper()
	store, err := NewStore(sqldbtest.New(t), secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{}
	clients, err := NewClients(store, "apple", b.build, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return clients, store, b
}

func mustGet(t *testing.T, clients *Clients[*fakeClient], tenantID, name string) *fakeClient {
	t.Helper()
	client, err := clients.Get(context.Background(), tenantID, name)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", tenantID, name, err)
	}
	return client
}

func mustPut(t *testing.T, store *Store, tenantID, name, data string) {
	t.Helper()
	if err := store.Put(context.Background(), tenantID, "apple", name, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

func TestClients_concurrentGetsBuildOnce(t *testing.T) {
	t.Parallel()
	clients, store, b := newClients(t, ClientsConfig{MaxAge: time.Minute})
	mustPut(t, store, "acme", "pass.a", "a")

	const gets = 50
	start := make(chan struct{})
	got := make(chan *fakeClient, gets)
	var wg sync.WaitGroup
	for range gets {
		wg.Go(func() {
			<-start
			client, err := clients.Get(context.Background(), "acme", "pass.a")
			if err != nil {
				t.Error(err)
			}
			got <- client
		})
	}
	close(start)
	wg.Wait()
	close(got)
	first := <-got
	for client := range got {
		if client != first {
			t.Fatal("concurrent Gets returned different clients")
		}
	}
	if n := b.builds.Load(); n != 1 {
		t.Errorf("%d concurrent Gets built %d clients, want 1", gets, n)
	}
	if first.data != "a" {
		t.Errorf("client built from %q, want a", first.data)
	}
}

func TestClients_rebuildsWithinMaxAgeOfAChange(t *testing.T) {
	t.Parallel()
	clients, store, b := newClients(t, ClientsConfig{MaxAge: 20 * time.Millisecond})
	mustPut(t, store, "acme", "pass.a", "v1")
	v1 := mustGet(t, clients, "acme", "pass.a")

	mustPut(t, store, "acme", "pass.a", "v2")
	var v2 *fakeClient
	contracttest.Eventually(t, func() bool {
		v2 = mustGet(t, clients, "acme", "pass.a")
		return v2 != v1
	}, "the changed credential's client is built")
	if v2.data != "v2" || v2.revision == v1.revision {
		t.Errorf("rebuilt client: data %q revision %d, want v2 and a revision other than %d", v2.data, v2.revision, v1.revision)
	}
	if !v1.closed.Load() {
		t.Error("the replaced client was not closed")
	}
	if n := b.builds.Load(); n != 2 {
		t.Errorf("built %d clients, want 2", n)
	}

	if err := store.Delete(context.Background(), "acme", "apple", "pass.a"); err != nil {
		t.Fatal(err)
	}
	contracttest.Eventually(t, func() bool {
		_, err := clients.Get(context.Background(), "acme", "pass.a")
		return errors.Is(err, ErrNotFound)
	}, "Get of the deleted credential returns ErrNotFound")
	if !v2.closed.Load() {
		t.Error("the deleted credential's client was not closed")
	}
}

func TestClients_checksTheRevisionOnlyAfterMaxAge(t *testing.T) {
	t.Parallel()
	clients, store, b := newClients(t, ClientsConfig{}) // the default MaxAge
	clk := contracttest.NewClock()
	clients.now = clk.Now

	// An unknown credential is ErrNotFound, and that is kept for MaxAge too.
	if _, err := clients.Get(context.Background(), "acme", "pass.a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put err = %v, want ErrNotFound", err)
	}
	mustPut(t, store, "acme", "pass.a", "v1")
	if _, err := clients.Get(context.Background(), "acme", "pass.a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get within MaxAge of a not found err = %v, want the cached ErrNotFound", err)
	}
	clk.Advance(DefaultMaxAge)
	v1 := mustGet(t, clients, "acme", "pass.a")

	// Within MaxAge the change is not seen; after it, it is.
	mustPut(t, store, "acme", "pass.a", "v2")
	clk.Advance(DefaultMaxAge - time.Millisecond)
	if got := mustGet(t, clients, "acme", "pass.a"); got != v1 {
		t.Error("the client was rebuilt before MaxAge passed")
	}
	clk.Advance(time.Millisecond)
	v2 := mustGet(t, clients, "acme", "pass.a")
	if v2 == v1 || v2.data != "v2" || !v1.closed.Load() {
		t.Errorf("after MaxAge: client %q (same: %t), old closed %t; want a new v2 client and the old closed", v2.data, v2 == v1, v1.closed.Load())
	}

	// An unchanged revision keeps the client.
	clk.Advance(10 * DefaultMaxAge)
	if got := mustGet(t, clients, "acme", "pass.a"); got != v2 || v2.closed.Load() {
		t.Error("the client of an unchanged credential was replaced")
	}
	if n := b.builds.Load(); n != 2 {
		t.Errorf("built %d clients, want 2", n)
	}

	// Each (tenant, name) has its own client; another tenant's is not found.
	mustPut(t, store, "acme", "pass.b", "b")
	if got := mustGet(t, clients, "acme", "pass.b"); got == v2 || got.data != "b" {
		t.Errorf("pass.b's client = %q", got.data)
	}
	if _, err := clients.Get(context.Background(), "other", "pass.a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's Get err = %v, want ErrNotFound", err)
	}

	clients.Close()
	if !v2.closed.Load() {
		t.Error("Close did not close the clients")
	}
}

// TestClients_readsACredentialInUseAgainBeforeItExpires: a client asked for in its last quarter of MaxAge is
// handed out at once while its credential is read again in the background, so a changed credential's new client
// replaces it before it expires, without a caller waiting for the store; and so does a credential found missing.
func TestClients_readsACredentialInUseAgainBeforeItExpires(t *testing.T) {
	t.Parallel()
	clients, store, _ := newClients(t, ClientsConfig{})
	clk := contracttest.NewClock()
	clients.now = clk.Now
	if _, err := clients.Get(context.Background(), "acme", "pass.a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put err = %v, want ErrNotFound", err)
	}
	mustPut(t, store, "acme", "pass.a", "v1")
	clk.Advance(DefaultMaxAge - refreshAhead(DefaultMaxAge))
	if _, err := clients.Get(context.Background(), "acme", "pass.a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a Get in the last quarter of MaxAge err = %v, want the cached ErrNotFound", err)
	}
	var v1 *fakeClient
	contracttest.Eventually(t, func() bool {
		var err error
		v1, err = clients.Get(context.Background(), "acme", "pass.a")
		return err == nil && v1.data == "v1"
	}, "the credential put since replaces the cached not found before it expires")

	// The client built in the background is fresh for MaxAge from then.
	mustPut(t, store, "acme", "pass.a", "v2")

	clk.Advance(DefaultMaxAge - refreshAhead(DefaultMaxAge) - time.Millisecond)
	if got := mustGet(t, clients, "acme", "pass.a"); got != v1 {
		t.Fatal("the client was checked again before its last quarter of MaxAge")
	}
	clk.Advance(time.Millisecond)
	if got := mustGet(t, clients, "acme", "pass.a"); got != v1 {
		t.Fatal("a Get in the last quarter of MaxAge did not get the cached client")
	}
	// The clock stays before the old client's expiry: only the background read can bring v2.
	contracttest.Eventually(t, func() bool {
		got := mustGet(t, clients, "acme", "pass.a")
		return got.data == "v2" && v1.closed.Load()
	}, "the changed credential's client replaces the old one before it expires")
	clients.Close()
}

func TestClients_aCredentialThatDoesNotBuildIsRetriedAfterMaxAge(t *testing.T) {
	t.Parallel()
	clients, store, b := newClients(t, ClientsConfig{})
	clk := contracttest.NewClock()
	clients.now = clk.Now
	mustPut(t, store, "acme", "pass.a", "v1")
	v1 := mustGet(t, clients, "acme", "pass.a")

	b.fail.Store(true)
	mustPut(t, store, "acme", "pass.a", "broken")
	clk.Advance(DefaultMaxAge)
	_, err := clients.Get(context.Background(), "acme", "pass.a")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a credential that does not build err = %v, want the build's error", err)
	}
	if !v1.closed.Load() {
		t.Error("the client of the replaced credential was not closed")
	}
	if _, err2 := clients.Get(context.Background(), "acme", "pass.a"); err2 == nil || b.builds.Load() != 2 {
		t.Errorf("within MaxAge: err %v after %d builds; want the cached error and no new build", err2, b.builds.Load())
	}

	b.fail.Store(false)
	clk.Advance(DefaultMaxAge)
	if got := mustGet(t, clients, "acme", "pass.a"); got.data != "broken" {
		t.Errorf("after MaxAge the credential built into %q", got.data)
	}
}

// idleCloser is a client like http.Client, that has CloseIdleConnections and no Close.
type idleCloser struct{ closed atomic.Bool }

func (c *idleCloser) CloseIdleConnections() { c.closed.Store(true) }

func TestClients_closesIdleConnectionsOfAReplacedClient(t *testing.T) {
	t.Parallel()
	store, err := NewStore(sqldbtest.New(t), secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	clients, err := NewClients(store, "google", func(Credential) (*idleCloser, error) { return &idleCloser{}, nil },
		ClientsConfig{MaxAge: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Put(ctx, "acme", "google", "default", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	first, err := clients.Get(ctx, "acme", "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, "acme", "google", "default"); err != nil {
		t.Fatal(err)
	}
	contracttest.Eventually(t, func() bool {
		_, err := clients.Get(ctx, "acme", "default")
		return errors.Is(err, ErrNotFound)
	}, "Get of the deleted credential returns ErrNotFound")
	if !first.closed.Load() {
		t.Error("the dropped client's idle connections were not closed")
	}
}

func TestClientsConfig_Validate(t *testing.T) {
	t.Parallel()
	var cfg ClientsConfig
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil || cfg.MaxAge != DefaultMaxAge {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	if err := (ClientsConfig{MaxAge: -time.Second}).Validate(); err == nil {
		t.Error("a negative max age is valid")
	}
	store, err := NewStore(sqldbtest.New(t), secretboxtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	build := func(Credential) (int, error) { return 0, nil }
	if _, err := NewClients(store, "apple", build, ClientsConfig{MaxAge: -1}); err == nil {
		t.Error("NewClients accepted a negative max age")
	}
	if _, err := NewClients(nil, "apple", build, ClientsConfig{}); err == nil {
		t.Error("NewClients accepted a nil store")
	}
}
