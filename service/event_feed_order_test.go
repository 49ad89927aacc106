package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/service"
)

// feedTestEvent is what the writers append: an event type no projection but the audit log acts on.
type feedTestEvent struct {
	Writer int `json:"writer"`
	Seq    int `json:"seq"`
}

// TestEventFeed_followingNextMissesNothingWhileWritesCommitOutOfOrder appends events from many goroutines, each
// append in a transaction held open for a random while, so that on PostgreSQL the event store's positions
// commit out of order, while a consumer follows next through the feed. The consumer must end with every event
// exactly once, each writer's in the order it appended them.
func TestEventFeed_followingNextMissesNothingWhileWritesCommitOutOfOrder(t *testing.T) {
	// A waiting request looks often, so the consumer keeps up with the writers in small pages.
	h := serve(t, service.Config{Feed: query.EventsConfig{PollInterval: 20 * time.Millisecond}}, testConfig())
	h.addTenant("acme")
	start := h.feedHead("acme")
	postgres := h.svc.DB.Dialect.Name == sqldb.Postgres.Name
	writers, appends := 12, 25
	if !postgres {
		// One writer at a time: commits are in position order whatever the goroutines do, and each append waits
		// for the others, so fewer of them say as much in less time.
		writers, appends = 4, 15
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var total sync.WaitGroup
	appended := make(chan int, writers*appends)
	// commits lists the first store position of each append in the order the appends committed.
	var commitsMu sync.Mutex
	var commits []int64
	for w := range writers {
		wg.Add(1)
		total.Add(1)
		go func() {
			defer wg.Done()
			defer total.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 14))
			seq := 0
			for range appends {
				n := 1 + rng.IntN(3)
				events := make([]eventstore.Event, n)
				for k := range events {
					seq++
					payload, _ := json.Marshal(feedTestEvent{Writer: w, Seq: seq})
					events[k] = eventstore.Event{TenantID: "acme", StreamID: fmt.Sprintf("feed-test-%d", w), Version: seq, Type: "FeedTestRecorded", Payload: payload}
				}
				var hold time.Duration
				if postgres {
					// SQLite has one writer: a held transaction would only hold up the others.
					hold = time.Duration(rng.IntN(15)) * time.Millisecond
				}
				var stored []eventstore.Event
				err := sqldb.InTx(ctx, h.svc.DB, func(ctx context.Context, tx *sql.Tx) error {
					var err error
					if stored, err = h.svc.Events.Append(ctx, events); err != nil {
						return err
					}
					// Held open after its positions are drawn: later appends of other writers commit first.
					time.Sleep(hold)
					return nil
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				commitsMu.Lock()
				commits = append(commits, stored[0].Position.Sequence)
				commitsMu.Unlock()
				appended <- n
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { total.Wait(); close(appended); close(writersDone) }()

	// The consumer follows next while the writers write, in small pages and long polls.
	var seen []feedEvent
	after := start
	expected := -1
	for {
		if expected < 0 {
			select {
			case <-writersDone:
				expected = 0
				for n := range appended {
					expected += n
				}
			default:
			}
		}
		if expected >= 0 && len(seen) >= expected {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the consumer saw %d events of %d before the deadline", len(seen), expected)
		}
		page := h.feed("acme", fmt.Sprintf("after=%d&limit=50&wait=2s", after))
		seen = append(seen, page.Events...)
		after = *page.Next
		// An empty page once the writers are done is no end: on a loaded machine the last events can take longer
		// than a wait to show (114 of 126 were seen so). The deadline above ends a feed that lost some.
	}
	wg.Wait()
	// Nothing more comes after the last.
	if extra := h.feed("acme", fmt.Sprintf("after=%d", after)); len(extra.Events) != 0 {
		t.Fatalf("the consumer stopped at %d events, and the feed has more: %+v", len(seen), extra.Events)
	}

	last := map[int]int{}
	once := map[string]bool{}
	for i, e := range seen {
		if i > 0 && e.Position <= seen[i-1].Position {
			t.Fatalf("position %d after %d", e.Position, seen[i-1].Position)
		}
		var ev feedTestEvent
		if e.Type != "FeedTestRecorded" || json.Unmarshal(e.Data, &ev) != nil {
			t.Fatalf("unexpected event %+v", e)
		}
		key := fmt.Sprintf("%d/%d", ev.Writer, ev.Seq)
		if once[key] {
			t.Fatalf("event %s seen twice", key)
		}
		once[key] = true
		if ev.Seq != last[ev.Writer]+1 {
			t.Fatalf("writer %d's event %d follows its %d: one is missing or out of order", ev.Writer, ev.Seq, last[ev.Writer])
		}
		last[ev.Writer] = ev.Seq
	}
	if len(seen) != expected {
		t.Fatalf("the consumer saw %d events, the writers appended %d", len(seen), expected)
	}

	// The test proves something only if the event store's positions did commit out of order: an append
	// committed after one with a higher position.
	if postgres {
		late := 0
		var highest int64
		for _, p := range commits {
			if p < highest {
				late++
			}
			highest = max(highest, p)
		}
		if late == 0 {
			t.Fatal("the appends committed in the order of their positions: the test did not exercise late commits")
		}
		t.Logf("%d events; %d of %d appends committed after an append with a higher position", len(seen), late, len(commits))
	}
}
