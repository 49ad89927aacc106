package faults

import (
	"testing"
	"time"
)

// TestFault_sigtermOfOneInstanceHandsItsDeliveriesOver stops one of three instances mid-load as an orchestrator
// does. It finishes the pushes it started, records them, and hands every other claimed delivery back at once, so
// the others deliver them within seconds (the target is 2 s), not when a lease runs out, and nothing
// arrives twice. On SQLite the single instance is stopped and started again.
//
// The lease is three minutes, three times the bound on delivery, so a delivery left to its lease fails the test.
// With the default 10 s lease it could not: the victim's deliveries came back 10 s after the SIGTERM, 2 s into the
// 8 s load, well within 10 s of the load's end. The bound is 60 s: the whole load must drain in it, and on a
// loaded machine (load average 18 to 27 on the 2 cores) the projections took 9 to 23 s to bring the last updates
// to the queue; the 10 s bound failed with half of them undelivered and none still queued.
func TestFault_sigtermOfOneInstanceHandsItsDeliveriesOver(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	instances := 1
	if db.postgres {
		instances = 3
	}
	const lease, within = 3 * time.Minute, time.Minute
	s := newScenario(t, db, 200, instances, "PASSPUSH_DELIVERY_LEASE="+lease.String())
	s.receiver.delay.Store(int64(100 * time.Millisecond))

	l := s.startLoad(150, 8*time.Second)
	l.waitAcknowledged(300)
	victim := s.busiest()
	code, took := victim.sigterm(30 * time.Second)
	t.Logf("%s stopped %.2fs after SIGTERM, exit code %d", victim.name, took.Seconds(), code)
	if code != 0 {
		t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", victim.name, code, victim.logTail(30))
	}
	if instances == 1 {
		s.start()
	}
	calls := l.wait()

	s.checkPromise(calls, promise{within: within})
	checkNoDeadlocks(t, s)
}
