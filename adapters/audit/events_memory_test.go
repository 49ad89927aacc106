package audit_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/audit"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
	"github.com/passpush/passpush/app/query"
)

var exportEvents = flag.Int("export-events", 200_000, "events BenchmarkExport writes")

// payloadBytes is the size of each seeded event's data: a PassUpdateScheduled with a few fields.
const payloadBytes = 2000

// seedAuditLog writes n events of tenant acme to the audit log in one statement, and one of tenant other after
// each thousand, so the export walks past another tenant's rows too.
func seedAuditLog(tb testing.TB, db *sqldb.DB, n int) {
	tb.Helper()
	data := fmt.Sprintf(`{"data":{"offer":"%s"}}`, strings.Repeat("x", payloadBytes-22))
	series := `SELECT x FROM generate_series(1, $1) AS x`
	// Event ids are UUIDs, as the event store makes them: the log keys them as uuids on PostgreSQL.
	id := `('00000000-0000-4000-8000-' || lpad(x::text, 12, '0'))::uuid`
	if db.Dialect.Name == sqldb.SQLite.Name {
		series = `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < $1) SELECT x FROM s`
		id = `printf('00000000-0000-4000-8000-%012d', x)`
	}
	_, err := db.ExecContext(context.Background(), `
		INSERT INTO audit_log (event_id, tenant_id, event_type, occurred_at, journey_id, pass_id, correlation_id, data, stream_id)
		SELECT `+id+`, CASE WHEN x % 1000 = 0 THEN 'other' ELSE 'acme' END, 'PassUpdateScheduled', $2, 'j-1',
			'p-' || (x % 5000), 'c-' || x, $3, 'pass-p-' || (x % 5000)
		FROM (`+series+`) AS series`, n, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), data)
	if err != nil {
		tb.Fatalf("seed %d audit events: %v", n, err)
	}
}

// peakHeap samples the bytes of live and not yet swept heap objects while fn runs, and returns the most seen.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak
}

// export writes every acme event as the CLI does, a JSON line each, to io.Discard, and returns how many.
func export(tb testing.TB, h query.EventsHandler) int {
	tb.Helper()
	n := 0
	err := query.EachEvent(context.Background(), h, query.Events{TenantID: "acme", Limit: query.MaxEventsLimit}, func(e query.Event) error {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = io.Discard.Write(line)
		n++
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestEvents_exportMemoryStaysFlat exports 20,000 events of 2 KB, 40 MB of data, and checks that the heap never
// holds more than a few pages of them: the export reads a page at a time and keeps none. (Small, so that it
// runs in seconds under -race on SQLite; BenchmarkExport shows the same at a million.)
func TestEvents_exportMemoryStaysFlat(t *testing.T) {
	db := sqldbtest.New(t)
	if raceDetector && db.Dialect.Name == sqldb.SQLite.Name {
		// 40 MB through the pure-Go SQLite driver under -race takes minutes: the race run on PostgreSQL measures
		// it, and so does a run without -race on SQLite.
		t.Skip("on SQLite only without -race")
	}
	const n = 20_000
	seedAuditLog(t, db, n)
	log, err := audit.NewLog(db)
	if err != nil {
		t.Fatal(err)
	}
	h := query.NewEventsHandler(log, query.EventsConfig{})
	var exported int
	peak := peakHeap(func() { exported = export(t, h) })
	if want := n - n/1000; exported != want {
		t.Fatalf("exported %d events, want %d", exported, want)
	}
	// All of them in memory would be over 40 MB; a page is about 2 MB, and the GC lets garbage grow to twice
	// what is live before it collects.
	const limit = 24 << 20
	t.Logf("peak heap %.1f MiB while exporting %d events", float64(peak)/(1<<20), exported)
	if peak > limit {
		t.Fatalf("the heap reached %.1f MiB exporting %d events of 2 KB: the export holds more than a page", float64(peak)/(1<<20), exported)
	}
}

// BenchmarkExport exports -export-events events of 2 KB (default 200,000) and reports events/s and the peak heap.
// Run it at two sizes to see the heap stay flat, e.g.
//
//	go test -run '^$' -bench BenchmarkExport -benchtime 1x ./adapters/audit/ -args -export-events 1000000
func BenchmarkExport(b *testing.B) {
	db := sqldbtest.New(b)
	seedAuditLog(b, db, *exportEvents)
	log, err := audit.NewLog(db)
	if err != nil {
		b.Fatal(err)
	}
	h := query.NewEventsHandler(log, query.EventsConfig{})
	b.ResetTimer()
	for range b.N {
		var exported int
		start := time.Now()
		peak := peakHeap(func() { exported = export(b, h) })
		b.ReportMetric(float64(exported)/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
}
