// Package metrics is passpush's Prometheus metrics: the series the HTTP port, the handlers, the channels and the
// delivery stage record into, the database's state read at scrape time, and the handler that serves them all.
// Everything is registered on one registry that the service builds, never on the process-wide default one, so
// that two services in one process (the tests) each have their own.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "passpush"

// Config names the instance whose metrics these are.
type Config struct {
	// InstanceID tells this process from the others on the same database: hostname and pid by default.
	InstanceID string
	// Version is the build's version, for passpush_instance_info.
	Version string
}

// Validate reports a config the metrics cannot be built with.
func (c Config) Validate() error {
	if c.InstanceID == "" || c.Version == "" {
		return errors.New("metrics: an instance id and a version are required")
	}
	return nil
}

// Metrics is every series passpush records into, on one registry.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	handlerCalls    *prometheus.CounterVec
	handlerDuration *prometheus.HistogramVec

	passUpdatesScheduled *prometheus.CounterVec
	deliveryOutcomes     *prometheus.CounterVec
	channelCallDuration  *prometheus.HistogramVec
}

// New registers the Go and process collectors and passpush's series on registry.
func New(registry *prometheus.Registry, config Config) (*Metrics, error) {
	if registry == nil {
		return nil, errors.New("new metrics: nil registry")
	}
	if err := config.Validate(); err != nil {
		return nil, err
	}
	m := &Metrics{
		registry: registry,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template (unmatched for no route), method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		handlerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "handler_calls_total",
			Help: "Calls of the application's command and query handlers, by kind, handler and result (ok or error).",
		}, []string{"kind", "handler", "result"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "handler_duration_seconds",
			Help:    "Time a command or query handler took, by kind and handler.",
			Buckets: prometheus.DefBuckets,
		}, []string{"kind", "handler"}),
		passUpdatesScheduled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "pass_updates_scheduled_total",
			Help: "Pass updates from journeys that this instance's command handler stored, by tenant; a resend counts again.",
		}, []string{"tenant"}),
		deliveryOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "delivery_outcomes_total",
			Help: "Pushes this instance made to a channel's targets, by channel and outcome (delivered, retried, " +
				"failed, not_installed, removed); failed also counts a channel given up on after its last attempt.",
		}, []string{"channel", "outcome"}),
		channelCallDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "channel_call_duration_seconds",
			Help:    "Time one push to one of a channel's targets took, by channel.",
			Buckets: prometheus.DefBuckets,
		}, []string{"channel"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "instance_info",
		Help:        "Always 1; its labels name this instance and its version, to tell the instances on one database apart.",
		ConstLabels: prometheus.Labels{"instance_id": config.InstanceID, "version": config.Version},
	})
	info.Set(1)
	err := m.Register(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.handlerCalls, m.handlerDuration,
		m.passUpdatesScheduled, m.deliveryOutcomes, m.channelCallDuration, info,
	)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Register adds collectors to the registry, such as the database's (NewStoreCollector, DB stats).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// HTTPHandler serves the registry in Prometheus' text format: GET /metrics.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest records one HTTP request (httpport.RequestMetrics). route is the mux template or a fixed name,
// never a raw path, so the series stay as few as the routes.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// Handler returns the recorder of one handler's calls (app.Metrics). Its series are looked up here, once,
// so a call costs only the atomic adds.
func (m *Metrics) Handler(kind, name string) app.Recorder {
	return handlerRecorder{
		ok:       m.handlerCalls.WithLabelValues(kind, name, "ok"),
		failed:   m.handlerCalls.WithLabelValues(kind, name, "error"),
		duration: m.handlerDuration.WithLabelValues(kind, name),
	}
}

type handlerRecorder struct {
	ok, failed prometheus.Counter
	duration   prometheus.Observer
}

func (r handlerRecorder) Done(d time.Duration, err error) {
	if err != nil {
		r.failed.Inc()
	} else {
		r.ok.Inc()
	}
	r.duration.Observe(d.Seconds())
}

// The outcomes delivery_outcomes_total counts.
const (
	OutcomeDelivered    = "delivered"
	OutcomeRetried      = "retried"
	OutcomeFailed       = "failed"
	OutcomeNotInstalled = "not_installed"
	OutcomeRemoved      = "removed"
)

// DeliveryOutcome counts one outcome of a channel (delivery.OutcomeCounter: a channel given up on).
func (m *Metrics) DeliveryOutcome(channel, outcome string) {
	m.deliveryOutcomes.WithLabelValues(channel, outcome).Inc()
}

// ScheduledUpdates counts n pass updates scheduled for a tenant.
func (m *Metrics) ScheduledUpdates(tenantID string, n int) {
	m.passUpdatesScheduled.WithLabelValues(tenantID).Add(float64(n))
}

// Gauge registers a gauge read from value at each scrape, such as the deliveries in flight.
func (m *Metrics) Gauge(name, help string, value func() float64) error {
	return m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, value))
}

// CountScheduled wraps the handler of ScheduleJourneyPassUpdates so that each batch it stores counts its updates
// per tenant in passpush_pass_updates_scheduled_total. The label is the tenant's id, which the HTTP port has
// checked against the tenants: never a pass id, an email or a journey id, which would make a series each.
func (m *Metrics) CountScheduled(h app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates]) app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates] {
	return countScheduled{base: h, metrics: m}
}

type countScheduled struct {
	base    app.VoidCommandHandler[*command.ScheduleJourneyPassUpdates]
	metrics *Metrics
}

func (c countScheduled) Handle(ctx context.Context, cmd *command.ScheduleJourneyPassUpdates) error {
	if err := c.base.Handle(ctx, cmd); err != nil {
		return err
	}
	// A batch holds few tenants, in runs: one series lookup per run.
	for i := 0; i < len(cmd.Updates); {
		j := i + 1
		for j < len(cmd.Updates) && cmd.Updates[j].TenantID == cmd.Updates[i].TenantID {
			j++
		}
		c.metrics.ScheduledUpdates(cmd.Updates[i].TenantID, j-i)
		i = j
	}
	return nil
}

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

// HoldBack passes on the wrapped channel's rate limit (push.RateLimited), which the embedding alone would hide:
// the fan-out then pushed every update held back for its turn, and a wallet answered it as over its quota. A hold
// is neither timed nor counted, as no push was made; a channel without a rate limit holds nothing back.
func (c *timedChannel) HoldBack(ctx context.Context, u push.Update) time.Duration {
	if l, ok := c.Channel.(push.RateLimited); ok {
		return l.HoldBack(ctx, u)
	}
	return 0
}
