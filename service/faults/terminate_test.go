package faults

import (
	"testing"
	"time"
)

// TestFault_terminatedConnectionsResumeDeliveriesWithinSeconds is issue 9's second probe: an operator (or a
// failover) ends every connection passpush holds. The handlers must give up the dead transaction at once and go
// on with fresh connections: deliveries resume within seconds (the target is 2 s), and nothing that was
// answered 200 is lost.
func TestFault_terminatedConnectionsResumeDeliveriesWithinSeconds(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	if !db.postgres {
		t.Skip("pg_terminate_backend is PostgreSQL's")
	}
	s := newScenario(t, db, 200, 1)

	l := s.startLoad(200, 10*time.Second)
	l.waitAcknowledged(300)
	at := time.Now()
	terminated := db.terminateBackends()
	calls := l.wait()

	s.checkPromise(calls, promise{within: 40 * time.Second})
	recovery, ok := resumedAfter(s, calls, at)
	t.Logf("terminated %d backends; the first update accepted after that arrived %.2fs later (target 2s); %d log lines say \"bad connection\"",
		terminated, recovery.Seconds(), s.logLines("bad connection"))
	if bound := 10 * time.Second; !ok || recovery > bound {
		t.Errorf("deliveries did not resume within %s of pg_terminate_backend (first update accepted after it arrived after %.2fs, arrived at all: %t)",
			bound, recovery.Seconds(), ok)
	}
}

// resumedAfter is how long after a fault at the first update accepted after it arrived at the receiver: the
// whole pipeline, from the execute call's write to the webhook, works again.
func resumedAfter(s *scenario, calls []call, at time.Time) (time.Duration, bool) {
	var after []string
	for _, c := range calls {
		// A call sent after the fault was written after it.
		if c.acknowledged() && c.sent.After(at) {
			after = append(after, c.entry)
		}
	}
	first, ok := s.receiver.firstDeliveryOf(after)
	return first.Sub(at), ok
}
