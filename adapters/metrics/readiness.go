package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// ReadinessCollector reports each readiness check at scrape time as passpush_ready{check}, 1 when it is ok:
// an alert on readiness then needs nothing but the scrape, no prober of GET /readyz.
type ReadinessCollector struct {
	check func(ctx context.Context) map[string]string
	desc  *prometheus.Desc
}

// NewReadinessCollector reports the checks check runs (service.Service.CheckReadiness).
func NewReadinessCollector(check func(ctx context.Context) map[string]string) *ReadinessCollector {
	return &ReadinessCollector{check: check, desc: prometheus.NewDesc(namespace+"_ready",
		"1 when the readiness check passes, 0 when GET /readyz reports it failing.", []string{"check"}, nil)}
}

func (c *ReadinessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *ReadinessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*scrapeTimeout)
	defer cancel()
	for name, result := range c.check(ctx) {
		ready := 0.0
		if result == "ok" {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, ready, name)
	}
}
