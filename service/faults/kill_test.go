package faults

import (
	"testing"
	"time"
)

// TestFault_killNineOfOneInstanceLosesNoUpdate kills one of three instances mid-load, as a lost machine or the
// OOM killer would. The other two take over its deliveries once their leases run out (the issue asks for 10 s by
// default); only the pushes it had in flight may arrive twice. On SQLite, whose file has one instance, the
// instance is killed and started again, as its supervisor would.
func TestFault_killNineOfOneInstanceLosesNoUpdate(t *testing.T) {
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
	killed := time.Now()
	victim.kill9()
	t.Logf("killed %s while it pushed to the receiver", victim.name)
	if instances == 1 {
		s.start()
	}
	calls := l.wait()

	// A 10-second lease, with margin for a loaded machine.
	s.checkPromise(calls, promise{within: 25 * time.Second, leaseRanOutAt: killed})
	checkNoDeadlocks(t, s)
}

// checkNoDeadlocks holds the instances to issue 9's target of no deadlock when several share the delivery queue.
func checkNoDeadlocks(t *testing.T, s *scenario) {
	t.Helper()
	if len(s.all()) < 2 {
		return
	}
	if n := s.logLines("40P01", "deadlock detected"); n > 0 {
		t.Errorf("%d log lines report a deadlock (40P01) among %d instances; the target is none", n, len(s.all()))
	}
}
