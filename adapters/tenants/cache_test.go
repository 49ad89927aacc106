package tenants

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/domain/tenant"
)

// twoProcesses opens the same fresh database twice, as `serve` and a CLI beside it would, and returns a store
// on each.
func twoProcesses(t *testing.T) (serve, cli *Store) {
	t.Helper()
	url := sqldbtest.NewURL(t)
	ctx := context.Background()
	box := secretboxtest.New(t)
	open := func() *Store {
		db, err := sqldb.Open(ctx, url, sqldb.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		store, err := NewStore(db, box)
		if err != nil {
			t.Fatal(err)
		}
		return store
	}
	first := open()
	if _, err := sqldb.Migrate(ctx, first.db); err != nil {
		t.Fatal(err)
	}
	return first, open()
}

func newTenant(id, name string) tenant.Tenant {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return tenant.Tenant{ID: id, Name: name, SFMCSigningSecrets: []string{"sfmc-secret-of-" + id + "-" + name}, CreatedAt: now, UpdatedAt: now}
}

func getName(t *testing.T, c *Cache, id string) string {
	t.Helper()
	tn, err := c.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return tn.Name
}

func TestCache_showsAnotherProcessesChangeAfterTheTTL(t *testing.T) {
	t.Parallel()
	serve, cli := twoProcesses(t)
	ctx := context.Background()
	const ttl = 2 * time.Second
	clk := contracttest.NewClock()
	cache := NewCache(serve, ttl)
	cache.now = clk.Now

	if err := cli.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Fatalf("first Get = %s, want v1", got)
	}
	if err := cli.Save(ctx, newTenant("acme", "v2")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(ttl - time.Millisecond)
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Errorf("within the TTL Get = %s, want the cached v1", got)
	}
	clk.Advance(2 * time.Millisecond)
	if got := getName(t, cache, "acme"); got != "v2" {
		t.Errorf("after the TTL Get = %s, want the other process's v2", got)
	}

	// Disabling elsewhere shows the same way.
	disabled := newTenant("acme", "v2")
	disabled.Disabled = true
	if err := cli.Save(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	clk.Advance(ttl)
	got, err := cache.Get(ctx, "acme")
	if err != nil || !got.Disabled {
		t.Errorf("after the TTL Get = %+v, %v; want the tenant disabled", got, err)
	}
}

func TestCache_unknownTenantIsNotFoundUntilAnotherProcessAddsIt(t *testing.T) {
	t.Parallel()
	serve, cli := twoProcesses(t)
	ctx := context.Background()
	const ttl = 2 * time.Second
	clk := contracttest.NewClock()
	cache := NewCache(serve, ttl)
	cache.now = clk.Now

	if _, err := cache.Get(ctx, "newco"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("Get(unknown) err = %v, want tenant.ErrNotFound", err)
	}
	if err := cli.Save(ctx, newTenant("newco", "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, "newco"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("within the TTL err = %v, want the cached tenant.ErrNotFound", err)
	}
	clk.Advance(ttl + time.Millisecond)
	if got := getName(t, cache, "newco"); got != "v1" {
		t.Errorf("after the TTL Get = %s, want v1", got)
	}
}

func TestCache_seesAChangeItForgetsAtOnce(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	clk := contracttest.NewClock()
	cache := NewCache(serve, time.Hour)
	cache.now = clk.Now

	if _, err := cache.Get(ctx, "acme"); !errors.Is(err, tenant.ErrNotFound) {
		t.Fatalf("err = %v, want tenant.ErrNotFound", err)
	}
	if err := serve.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	cache.Forget("acme")
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Errorf("after its own save Get = %s, want v1", got)
	}
	if err := serve.Save(ctx, newTenant("acme", "v2")); err != nil {
		t.Fatal(err)
	}
	cache.Forget("acme")
	if got := getName(t, cache, "acme"); got != "v2" {
		t.Errorf("after its own second save Get = %s, want v2", got)
	}
	list, err := cache.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "v2" {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestCache_returnsWhatTheStoreReturns(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	want := newTenant("acme", "v1")
	want.Webhook = tenant.Webhook{URL: "https://example.com/h", Secrets: []string{"w"}}
	if err := serve.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	cache := NewCache(serve, time.Hour)
	for range 2 { // from the store, then from the cache
		got, err := cache.Get(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Get = %+v, want %+v", got, want)
		}
	}
}

// countingStore is the real store, counting the lookups that reach the database.
type countingStore struct {
	*Store
	mu          sync.Mutex
	gets        map[string]int
	counts      int
	unknownGets int
}

func (s *countingStore) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := s.Store.Get(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gets == nil {
		s.gets = map[string]int{}
	}
	s.gets[id]++
	if errors.Is(err, tenant.ErrNotFound) {
		s.unknownGets++
	}
	return t, err
}

func (s *countingStore) Count(ctx context.Context) (int, error) {
	s.mu.Lock()
	s.counts++
	s.mu.Unlock()
	return s.Store.Count(ctx)
}

func (s *countingStore) stats(id string) (gets, counts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[id], s.counts
}

func TestCache_unknownIdsReachTheDatabaseOncePerNegativeTTL(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	store := &countingStore{Store: serve}
	const ttl = 2 * time.Second
	clk := contracttest.NewClock()
	cache := NewCache(store, ttl)
	cache.now = clk.Now

	for range 50 {
		if _, err := cache.Get(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
			t.Fatalf("Get(nobody) err = %v, want tenant.ErrNotFound", err)
		}
	}
	if gets, counts := store.stats("nobody"); gets != 1 || counts != 1 {
		t.Fatalf("50 lookups of an unknown id made %d lookups and %d counts, want 1 and 1", gets, counts)
	}
	// Past the TTL of known tenants, one count (not a lookup per id) tells that no tenant was created.
	clk.Advance(ttl)
	for range 50 {
		_, _ = cache.Get(ctx, "nobody")
	}
	if gets, counts := store.stats("nobody"); gets != 1 || counts != 2 {
		t.Fatalf("after %s, 50 more lookups made %d lookups and %d counts in all, want 1 and 2", ttl, gets, counts)
	}
	// The negative entry ends after NegativeTTL.
	clk.Advance(NegativeTTL)
	_, _ = cache.Get(ctx, "nobody")
	if gets, _ := store.stats("nobody"); gets != 2 {
		t.Fatalf("after NegativeTTL the id was looked up %d times in all, want 2", gets)
	}
}

func TestCache_aFloodOfRandomIdsEvictsNoKnownTenant(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	if err := serve.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: serve}
	clk := contracttest.NewClock()
	cache := NewCache(store, time.Hour)
	cache.now = clk.Now
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Fatalf("Get(acme) = %s", got)
	}
	// More random ids than the negative cache holds, as a flood of made-up URLs would bring. The cache is made
	// small so that the test stays fast under the race detector (10,000 lookups take 25 s there).
	cache.unknown.Resize(100)
	const flood = 1000
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < flood; i += 4 {
				if _, err := cache.Get(ctx, fmt.Sprintf("random-%d", i)); !errors.Is(err, tenant.ErrNotFound) {
					t.Errorf("Get(random-%d) err = %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Fatalf("after the flood Get(acme) = %s", got)
	}
	if gets, _ := store.stats("acme"); gets != 1 {
		t.Errorf("after a flood of %d random ids the known tenant was read from the database %d times, want once: the flood evicted it", flood, gets)
	}
}

// hold holds the first read of a store in flight until release is closed, so that other reads happen meanwhile;
// entered tells each read that began.
type hold struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHold() *hold { return &hold{entered: make(chan struct{}, 100), release: make(chan struct{})} }

// enter is called by each read once it has read. Which read is the first is settled before entered tells of it:
// told first, a test that went on at once could start a second read that took the first's place and was held
// instead, while the test waited on it (TestCache_aLookupAfterForgetDoesNotShareOneFromBefore hung that way).
func (h *hold) enter() {
	first := false
	h.once.Do(func() { first = true })
	h.entered <- struct{}{}
	if first {
		<-h.release
	}
}

// heldStore is the real store whose first lookup reads the tenant and then waits for release.
type heldStore struct {
	countingStore
	*hold
}

func newHeldStore(s *Store) *heldStore {
	return &heldStore{countingStore: countingStore{Store: s}, hold: newHold()}
}

func (s *heldStore) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := s.countingStore.Get(ctx, id)
	s.enter()
	return t, err
}

func TestCache_concurrentMissesShareOneLookup(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	if err := serve.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	store := newHeldStore(serve)
	cache := NewCache(store, time.Hour)

	callers := getAtOnce(t, cache, store.hold, "lookup")
	if gets, _ := store.stats("acme"); gets != 1 {
		t.Errorf("%d concurrent lookups of a tenant not cached made %d queries, want 1", callers, gets)
	}
}

// getAtOnce gets acme from cache once, and 16 more times while h holds that first read of the store; it fails if a
// second read begins meanwhile, or if a caller is not answered acme's v1. It returns how many callers got it.
func getAtOnce(t *testing.T, cache *Cache, h *hold, read string) int {
	t.Helper()
	const callers = 17
	names := make(chan string, callers)
	get := func() {
		tn, err := cache.Get(context.Background(), "acme")
		if err != nil {
			t.Errorf("Get: %v", err)
		}
		names <- tn.Name
	}
	go get()
	<-h.entered // the first read is in flight
	for range callers - 1 {
		go get()
	}
	// A caller that did not share the read in flight reaches the store: give them the time to.
	select {
	case <-h.entered:
		t.Errorf("a second %s reached the store while the first was in flight", read)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	for range callers {
		if name := <-names; name != "v1" {
			t.Errorf("Get = %q, want v1", name)
		}
	}
	return callers
}

// heldCountStore is the real store whose first Count waits for release.
type heldCountStore struct {
	countingStore
	*hold
}

func (s *heldCountStore) Count(ctx context.Context) (int, error) {
	n, err := s.countingStore.Count(ctx)
	s.enter()
	return n, err
}

// TestCache_aColdStartCountsTenantsOnce: before the first count every lookup counts the tenants; the calls of a
// burst that arrive while that count is in flight share it instead of each running its own.
func TestCache_aColdStartCountsTenantsOnce(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	if err := serve.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	store := &heldCountStore{countingStore: countingStore{Store: serve}, hold: newHold()}
	cache := NewCache(store, time.Hour)

	callers := getAtOnce(t, cache, store.hold, "count")
	if _, counts := store.stats("acme"); counts != 1 {
		t.Errorf("%d concurrent first lookups counted the tenants %d times, want once", callers, counts)
	}
}

func TestCache_aLookupAfterForgetDoesNotShareOneFromBefore(t *testing.T) {
	t.Parallel()
	serve, _ := twoProcesses(t)
	ctx := context.Background()
	if err := serve.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	store := newHeldStore(serve)
	cache := NewCache(store, time.Hour)

	before := make(chan string, 1)
	go func() {
		tn, err := cache.Get(ctx, "acme")
		if err != nil {
			t.Errorf("Get: %v", err)
		}
		before <- tn.Name
	}()
	<-store.entered // it has read v1 and is held
	if err := serve.Save(ctx, newTenant("acme", "v2")); err != nil {
		t.Fatal(err)
	}
	cache.Forget("acme")
	if got := getName(t, cache, "acme"); got != "v2" {
		t.Errorf("after its own save Get = %s, want v2, not the lookup in flight from before", got)
	}
	close(store.release)
	if got := <-before; got != "v1" {
		t.Errorf("the lookup from before the save = %s, want v1", got)
	}
	// What the lookup from before read is not kept over the change.
	if got := getName(t, cache, "acme"); got != "v2" {
		t.Errorf("after the lookup from before ended Get = %s, want v2", got)
	}
}

// gatedStore is the real store whose lookups, once gate is set, wait for it to be closed.
type gatedStore struct {
	*Store
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (s *gatedStore) Get(ctx context.Context, id string) (tenant.Tenant, error) {
	t, err := s.Store.Get(ctx, id)
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		s.entered <- struct{}{}
		<-gate
	}
	return t, err
}

// TestCache_readsATenantInUseAgainBeforeItExpires: a tenant asked for in its last quarter of the TTL is read
// again in the background while the caller gets the cached one at once, so the calls of a busy tenant never wait
// for the read; the new entry replaces it before it expires.
func TestCache_readsATenantInUseAgainBeforeItExpires(t *testing.T) {
	t.Parallel()
	serve, cli := twoProcesses(t)
	ctx := context.Background()
	const ttl = 2 * time.Second
	clk := contracttest.NewClock()
	store := &gatedStore{Store: serve, entered: make(chan struct{}, 100)}
	cache := NewCache(store, ttl)
	cache.now = clk.Now
	if err := cli.Save(ctx, newTenant("acme", "v1")); err != nil {
		t.Fatal(err)
	}
	if got := getName(t, cache, "acme"); got != "v1" {
		t.Fatalf("first Get = %s, want v1", got)
	}
	if err := cli.Save(ctx, newTenant("acme", "v2")); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	store.mu.Lock()
	store.gate = gate
	store.mu.Unlock()

	clk.Advance(ttl - refreshAhead(ttl))
	answered := make(chan string, 1)
	go func() {
		tn, err := cache.Get(ctx, "acme")
		if err != nil {
			t.Error(err)
		}
		answered <- tn.Name
	}()
	select {
	case got := <-answered:
		if got != "v1" {
			t.Errorf("within the TTL Get = %s, want the cached v1", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Get within the TTL waited for the store's read")
	}
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("a tenant in its last quarter of the TTL was not read again")
	}
	close(gate)
	// The new entry comes in before the old one expires.
	for deadline := time.Now().Add(10 * time.Second); getName(t, cache, "acme") != "v2"; {
		if time.Now().After(deadline) {
			t.Fatal("the tenant read again did not replace the cached one")
		}
		time.Sleep(time.Millisecond)
	}
}
