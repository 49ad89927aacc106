package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// TestCertificateExpiryCollector_readsOncePerTTLAndKeepsTheLastReadOnAnError: scrapes within the TTL share one
// read (a read is a query per tenant); after it the certificates are read again, and a read that fails keeps
// reporting the last one rather than dropping the series an alert watches.
func TestCertificateExpiryCollector_readsOncePerTTLAndKeepsTheLastReadOnAnError(t *testing.T) {
	expires := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	var reads int
	var fail bool
	list := func(context.Context) ([]AppleCertificate, error) {
		reads++
		if fail {
			return nil, errors.New("database gone")
		}
		return []AppleCertificate{{TenantID: "acme", PassTypeID: "pass.com.example.test", NotAfter: expires.AddDate(0, 0, reads)}}, nil
	}
	c := NewCertificateExpiryCollector(list, logrus.NewEntry(logrus.New()))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	registry := prometheus.NewRegistry()
	registry.MustRegister(c)
	reported := func() float64 {
		t.Helper()
		families, err := registry.Gather()
		if err != nil || len(families) != 1 || len(families[0].GetMetric()) != 1 {
			t.Fatalf("gathered %v, %v; want one series", families, err)
		}
		return families[0].GetMetric()[0].GetGauge().GetValue()
	}

	first := reported()
	if want := float64(expires.AddDate(0, 0, 1).Unix()); first != want {
		t.Fatalf("reported %.0f, want %.0f", first, want)
	}
	now = now.Add(certificatesTTL - time.Second)
	if reported() != first || reads != 1 {
		t.Errorf("within the TTL: %d reads, want 1", reads)
	}
	now = now.Add(time.Second)
	if got, want := reported(), float64(expires.AddDate(0, 0, 2).Unix()); got != want || reads != 2 {
		t.Errorf("after the TTL: reported %.0f after %d reads, want %.0f after 2", got, reads, want)
	}
	fail = true
	now = now.Add(certificatesTTL)
	if got, want := reported(), float64(expires.AddDate(0, 0, 2).Unix()); got != want || reads != 3 {
		t.Errorf("a failed read: reported %.0f after %d reads, want the last read's %.0f after 3", got, reads, want)
	}
	if reported(); reads != 4 {
		t.Errorf("after a failed read the next scrape made %d reads in all, want it to read again (4)", reads)
	}
}
