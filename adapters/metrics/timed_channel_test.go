package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/metrics"
	"github.com/passpush/passpush/app/push"
	"github.com/prometheus/client_golang/prometheus"
)

// limitedChannel is a channel with a rate limit and no protocol: what the wrapper passes on is all this test
// looks at.
type limitedChannel struct{ wait time.Duration }

func (limitedChannel) Kind() string { return "limited" }
func (limitedChannel) Targets(context.Context, string, string) ([]push.Target, error) {
	return nil, nil
}
func (limitedChannel) Push(context.Context, push.Target, push.Update) push.Outcome {
	return push.Outcome{Kind: push.Delivered}
}
func (c limitedChannel) HoldBack(context.Context, push.Update) time.Duration { return c.wait }
func (limitedChannel) LatestOnly() bool                                      { return true }

// TestTimedChannel_keepsTheChannelsRateLimit: the fan-out sees a wrapped channel's rate limit and its need for
// only the latest state, as it would the channel's own; a hold is not counted as a push.
func TestTimedChannel_keepsTheChannelsRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Config{InstanceID: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	timed := m.TimedChannel(limitedChannel{wait: 3 * time.Second})
	limited, ok := timed.(push.RateLimited)
	if !ok {
		t.Fatal("the wrapped channel hides its rate limit")
	}
	if got := limited.HoldBack(context.Background(), push.Update{}); got != 3*time.Second {
		t.Errorf("HoldBack = %v, want the channel's 3s", got)
	}
	if latest, ok := timed.(push.LatestOnly); !ok || !latest.LatestOnly() {
		t.Error("the wrapped channel hides that it needs only the latest state")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "passpush_delivery_outcomes_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if v := s.GetCounter().GetValue(); v != 0 {
				t.Errorf("a hold was counted as an outcome: %v = %v", s.GetLabel(), v)
			}
		}
	}

	plain := m.TimedChannel(unlimitedChannel{})
	if got := plain.(push.RateLimited).HoldBack(context.Background(), push.Update{}); got != 0 {
		t.Errorf("a channel without a rate limit held an update back for %v", got)
	}
}

// unlimitedChannel is a channel without a rate limit.
type unlimitedChannel struct{}

func (unlimitedChannel) Kind() string { return "unlimited" }
func (unlimitedChannel) Targets(context.Context, string, string) ([]push.Target, error) {
	return nil, nil
}
func (unlimitedChannel) Push(context.Context, push.Target, push.Update) push.Outcome {
	return push.Outcome{Kind: push.Delivered}
}
