package faults

import (
	"testing"
	"time"
)

// TestFault_lockTimeoutOnAProjectionTableLosesNoUpdate is issue 9's first probe: with a short lock_timeout, a
// 2-second lock on the audit log makes the projections' statements fail. They must be retried until the lock is
// gone, never parked on the poison topic with the updates of the calls already answered 200.
func TestFault_lockTimeoutOnAProjectionTableLosesNoUpdate(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	if !db.postgres {
		t.Skip("lock_timeout and LOCK TABLE are PostgreSQL's")
	}
	s := newScenario(t, db, 200, 0)
	// Before serve connects: a database's settings apply to the sessions that start after them.
	db.exec("ALTER DATABASE " + db.name + " SET lock_timeout = '100ms'")
	s.start()

	l := s.startLoad(200, 8*time.Second)
	l.waitAcknowledged(300)
	waiting := db.holdLock("audit_log", 2*time.Second)
	calls := l.wait()

	s.checkPromise(calls, promise{within: 30 * time.Second})
	t.Logf("passpush was seen waiting for the lock in %d samples; %d log lines name the lock timeout (55P03)", waiting, s.logLines("55P03"))
	if waiting == 0 {
		t.Error("passpush never waited for the lock on audit_log: the fault did not happen")
	}
}
