package faults

import (
	"testing"
	"time"
)

// TestFault_sigtermOfOneInstanceHandsItsDeliveriesOver stops one of three instances mid-load as an orchestrator
// does. It finishes the pushes it started, records them, and hands every other claimed delivery back at once, so
// the others deliver them within seconds (the target is 2 s), not when a lease runs out, and nothing
// arrives twice. On SQLite the single instance is stopped and started again.
func TestFault_sigtermOfOneInstanceHandsItsDeliveriesOver(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	instances := 1
	if db.postgres {
		instances = 3
	}
	s := newScenario(t, db, 200, instances)
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

	s.checkPromise(calls, promise{within: 10 * time.Second})
	checkNoDeadlocks(t, s)
}
