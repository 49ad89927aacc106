package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// AppleCertificate is one tenant's Pass Type ID certificate, as CertificateExpiryCollector reports it.
type AppleCertificate struct {
	TenantID   string
	PassTypeID string
	NotAfter   time.Time
}

// certificatesTTL is how long one read of the certificates serves the scrapes: the read costs a query per tenant,
// and an expiry is watched in days.
const certificatesTTL = time.Minute

// CertificateExpiryCollector reports when each tenant's Apple Pass Type ID certificate expires, as
// passpush_apple_certificate_expiry_timestamp_seconds{tenant, pass_type_id}. Once a certificate has expired,
// APNs refuses every push of its passes and Wallet rejects the passes it signs; Apple's reminder goes to the
// brand's developer account, not to whoever runs passpush.
type CertificateExpiryCollector struct {
	list func(ctx context.Context) ([]AppleCertificate, error)
	desc *prometheus.Desc
	log  *logrus.Entry
	now  func() time.Time

	mu     sync.Mutex
	certs  []AppleCertificate
	readAt time.Time
}

// NewCertificateExpiryCollector reports the certificates list returns, read at most once per certificatesTTL.
func NewCertificateExpiryCollector(list func(ctx context.Context) ([]AppleCertificate, error), log *logrus.Entry) *CertificateExpiryCollector {
	if list == nil || log == nil {
		panic("nil certificate list or log")
	}
	return &CertificateExpiryCollector{list: list, log: log, now: time.Now,
		desc: prometheus.NewDesc(namespace+"_apple_certificate_expiry_timestamp_seconds",
			"When the tenant's Apple Pass Type ID certificate expires, in Unix seconds: after it, every push and pass of its Pass Type ID fails.",
			[]string{"tenant", "pass_type_id"}, nil)}
}

func (c *CertificateExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *CertificateExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cert := range c.certificates() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), cert.TenantID, cert.PassTypeID)
	}
}

// certificates returns the last read, reading again once it is older than certificatesTTL. A read that fails
// keeps the last one, which still says when those certificates expire, and is tried again at the next scrape.
func (c *CertificateExpiryCollector) certificates() []AppleCertificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.readAt.IsZero() || now.Sub(c.readAt) >= certificatesTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 2*scrapeTimeout)
		defer cancel()
		certs, err := c.list(ctx)
		if err != nil {
			c.log.WithError(err).Warn("metrics: could not read the Apple certificates")
			return c.certs
		}
		c.certs, c.readAt = certs, now
	}
	return c.certs
}
