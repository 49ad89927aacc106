package faults

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestInstances_threeOnOnePostgreSQLAllDeliver runs three instances on one PostgreSQL database under load and
// reads each one's /metrics: each names itself in passpush_instance_info, and each has delivered updates to the
// webhook, since the delivery stage runs on every instance and they claim from one queue.
func TestInstances_threeOnOnePostgreSQLAllDeliver(t *testing.T) {
	requireFaultTests(t)
	db := newDatabase(t)
	if !db.postgres {
		t.Skip("several instances share a PostgreSQL database only: an SQLite file has one")
	}
	s := newScenario(t, db, 200, 3)
	// A receiver that takes its time keeps each instance's slots busy, so the others' claims find work.
	s.receiver.delay.Store(int64(50 * time.Millisecond))
	calls := s.startLoad(150, 6*time.Second).wait()
	s.checkPromise(calls, promise{within: 25 * time.Second})

	instanceIDs := map[string]string{}
	for _, in := range s.all() {
		id, delivered := instanceMetrics(t, in)
		t.Logf("%s: instance %s delivered %v updates", in.name, id, delivered)
		if id == "" {
			t.Errorf("%s: no passpush_instance_info", in.name)
		}
		if other, dup := instanceIDs[id]; dup {
			t.Errorf("%s and %s both call themselves %q", other, in.name, id)
		}
		instanceIDs[id] = in.name
		if delivered == 0 {
			t.Errorf("%s delivered nothing: the delivery stage does not run on every instance\n%s", in.name, in.logTail(20))
		}
	}
}

// instanceMetrics reads an instance's id and how many webhook pushes it delivered from its /metrics.
func instanceMetrics(t *testing.T, in *instance) (id string, delivered float64) {
	t.Helper()
	res, err := http.Get(in.url + "/metrics")
	if err != nil {
		t.Fatalf("%s: GET /metrics: %v", in.name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET /metrics = %d", in.name, res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("%s: /metrics: %v", in.name, err)
	}
	if f, ok := families["passpush_instance_info"]; ok {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "instance_id" {
					id = l.GetValue()
				}
			}
		}
	}
	if f, ok := families["passpush_delivery_outcomes_total"]; ok {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == "webhook" && labels["outcome"] == "delivered" {
				delivered += m.GetCounter().GetValue()
			}
		}
	}
	return id, delivered
}
