package delivery

import (
	"testing"
	"time"
)

type counter struct{ n int64 }

func (c *counter) Accepted() int64 { return c.n }

// TestBurstMeter: a pace above the rate is a burst until it has been calm for burstCalm or has lasted maxBurst;
// a shorter gap does not end it, and the next burst counts from its own start.
func TestBurstMeter(t *testing.T) {
	c := &counter{}
	start := time.Unix(1_000_000, 0)
	m := newBurstMeter(c, 1000, time.Second, start)
	at := start
	step := func(accepted int64) bool {
		t.Helper()
		at = at.Add(burstWindow)
		c.n += accepted
		return m.inBurst(at)
	}
	perWindow := func(rate float64) int64 { return int64(rate * burstWindow.Seconds()) }

	if step(perWindow(900)) {
		t.Error("900 updates/s is a burst at a rate of 1,000")
	}
	if !step(perWindow(1500)) {
		t.Error("1,500 updates/s is not a burst at a rate of 1,000")
	}
	began := at
	if !m.inBurst(at.Add(burstWindow / 2)) {
		t.Error("a burst ended between two measurements")
	}
	if !step(0) {
		t.Error("a gap of one window ended a burst")
	}
	for at.Add(burstWindow).Sub(began) < time.Second {
		if !step(perWindow(1500)) {
			t.Fatalf("a burst ended before maxBurst, %s after it began", at.Sub(began))
		}
	}
	if step(perWindow(1500)) {
		t.Error("a burst that has lasted maxBurst still holds deliveries back")
	}
	if step(perWindow(1500)) {
		t.Error("a burst that outlasted maxBurst holds deliveries back again before it calms down")
	}
	for calm := time.Duration(0); calm < burstCalm; calm += burstWindow {
		if step(0) {
			t.Error("a burst that outlasted maxBurst holds deliveries back again while it calms down")
		}
	}
	if m.hot {
		t.Errorf("a burst did not end after a calm of %s", burstCalm)
	}
	if !step(perWindow(2000)) {
		t.Error("a new burst after a calm is not a burst")
	}
}
