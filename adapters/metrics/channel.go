package metrics

import (
	"context"
	"time"

	"github.com/passpush/passpush/app/push"
	"github.com/prometheus/client_golang/prometheus"
)

// TimedChannel wraps a channel so that each push to a target is timed and its outcome counted, the same way for
// every channel: the channels themselves know only their protocol.
func (m *Metrics) TimedChannel(ch push.Channel) push.Channel {
	kind := ch.Kind()
	series := func(outcome string) prometheus.Counter { return m.deliveryOutcomes.WithLabelValues(kind, outcome) }
	return &timedChannel{
		Channel: ch, duration: m.channelCallDuration.WithLabelValues(kind),
		delivered: series(OutcomeDelivered), retried: series(OutcomeRetried), failed: series(OutcomeFailed),
		notInstalled: series(OutcomeNotInstalled), removed: series(OutcomeRemoved),
	}
}

// timedChannel is the channel TimedChannel returns. Its series are looked up once: a push costs two atomic adds.
type timedChannel struct {
	push.Channel
	duration                                          prometheus.Observer
	delivered, retried, failed, notInstalled, removed prometheus.Counter
}

func (c *timedChannel) Push(ctx context.Context, t push.Target, u push.Update) push.Outcome {
	start := time.Now()
	o := c.Channel.Push(ctx, t, u)
	c.duration.Observe(time.Since(start).Seconds())
	switch o.Kind {
	case push.Delivered:
		c.delivered.Inc()
	case push.Retry:
		c.retried.Inc()
	case push.Rejected:
		c.failed.Inc()
	case push.NotInstalled:
		c.notInstalled.Inc()
	case push.Gone:
		c.removed.Inc()
	}
	return o
}

// LatestOnly passes on the wrapped channel's answer (push.LatestOnly), which the embedding alone would hide.
func (c *timedChannel) LatestOnly() bool {
	l, ok := c.Channel.(push.LatestOnly)
	return ok && l.LatestOnly()
}
