package faults

import (
	"testing"
	"time"
)

// TestFault_webhookOutageOf30sDeliversEveryUpdateOnceItRecovers: the tenant's receiver answers 500 for 30 s, then
// recovers. Every update accepted meanwhile is delivered once it is back, once each and in order per pass, none
// given up as failed.
func TestFault_webhookOutageOf30sDeliversEveryUpdateOnceItRecovers(t *testing.T) {
	requireFaultTests(t)
	s := newScenario(t, newDatabase(t), 100, 1)

	recovers := s.receiver.failFor(30 * time.Second)
	calls := s.startLoad(100, 4*time.Second).wait()

	// A retry schedule that doubles from 1 s tries again 31 s after the first attempt: within seconds of the
	// recovery for updates first tried in the outage's first seconds.
	s.checkPromise(calls, promise{within: time.Until(recovers) + 35*time.Second})
	s.receiver.mu.Lock()
	failed := s.receiver.failed
	s.receiver.mu.Unlock()
	if failed == 0 {
		t.Error("the receiver never answered 500: the outage did not happen")
	}
}
