package delivery

import (
	"time"
)

// AcceptedCounter counts the updates this process has accepted from Journey Builder so far: stored, and so
// bound to be delivered. The burst meter reads its pace.
type AcceptedCounter interface {
	Accepted() int64
}

// burstWindow is how often the burst meter measures the pace at which updates are accepted: long enough that
// group commit's batches average out, short enough to react within a fraction of a second.
const burstWindow = 100 * time.Millisecond

// burstCalm is how long the pace must stay at or under the rate for a burst to end, so that a gap between calls
// (a slow call, a pause of the load balancer) does not let a wave of deliveries in.
const burstCalm = 300 * time.Millisecond

// burstMeter tells whether updates are being accepted faster than a rate, and for how long they have been. Only
// the worker's claim loop uses it, so it needs no lock.
type burstMeter struct {
	accepted AcceptedCounter
	rate     float64
	maxBurst time.Duration

	lastCount int64
	lastAt    time.Time
	lastRate  float64
	hot       bool
	since     time.Time // when the burst began
	lastHot   time.Time // when the pace was last over the rate
}

func newBurstMeter(accepted AcceptedCounter, rate float64, maxBurst time.Duration, now time.Time) *burstMeter {
	return &burstMeter{accepted: accepted, rate: rate, maxBurst: maxBurst, lastCount: accepted.Accepted(), lastAt: now}
}

// inBurst reports whether the stage should hold deliveries back at now: updates have been accepted faster than
// the rate, with no calm of burstCalm since, and not for longer than maxBurst, so a load that never ends cannot
// starve deliveries.
func (m *burstMeter) inBurst(now time.Time) bool {
	if elapsed := now.Sub(m.lastAt); elapsed >= burstWindow {
		count := m.accepted.Accepted()
		rate := float64(count-m.lastCount) / elapsed.Seconds()
		m.lastCount, m.lastAt, m.lastRate = count, now, rate
		switch {
		case rate > m.rate && !m.hot:
			m.hot, m.since, m.lastHot = true, now, now
		case rate > m.rate:
			m.lastHot = now
		case now.Sub(m.lastHot) >= burstCalm:
			m.hot = false
		}
	}
	return m.hot && now.Sub(m.since) < m.maxBurst
}
