package faults

import (
	"sync"
	"testing"
	"time"
)

// TestConnectionBudget_serveHoldsAtMostPASSPUSH_DB_MAX_CONNSBackendsUnderLoad: several instances share one
// PostgreSQL, so each must stay within its budget however hard it is driven, and still work at the smallest
// budget it accepts.
func TestConnectionBudget_serveHoldsAtMostPASSPUSH_DB_MAX_CONNSBackendsUnderLoad(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	if !db.postgres {
		t.Skip("SQLite has no server connections to count")
	}
	const budget = 8
	s := newScenario(t, db, 200, 1, "PASSPUSH_DB_MAX_CONNS=8")

	stop := make(chan struct{})
	var sampled sync.WaitGroup
	most, samples := 0, 0
	var sampleErr error
	sampled.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n, err := db.backends()
			if err != nil {
				sampleErr = err
				return
			}
			most, samples = max(most, n), samples+1
		}
	})
	calls := s.startLoad(300, 5*time.Second).wait()
	s.checkPromise(calls, promise{within: 30 * time.Second})
	close(stop)
	sampled.Wait()

	if sampleErr != nil {
		t.Fatalf("sample pg_stat_activity: %v", sampleErr)
	}
	t.Logf("at most %d backends of passpush's role in %d samples, budget %d", most, samples, budget)
	if most > budget {
		t.Errorf("serve with PASSPUSH_DB_MAX_CONNS=%d held %d PostgreSQL backends", budget, most)
	}
	if most == 0 {
		t.Error("no backend of passpush's role was ever seen: the samples measured nothing")
	}
}
