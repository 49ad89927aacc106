package webhook

import (
	"net/http"
)

// newClient returns the client the channel posts with. Its rules are part of the webhook policy, so the
// channel builds it rather than taking one:
//   - It dials through the policy's dialer, which refuses internal addresses after DNS.
//   - It uses no proxy, whatever HTTP_PROXY or HTTPS_PROXY say: through a proxy the address dialled would be
//     the proxy's, and the proxy would reach the internal address the dialer refuses.
//   - It follows no redirect: a redirect would send the signed body to a URL nobody checked. The channel sees
//     the 3xx and fails the push.
func newClient(cfg Config, p Policy) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.DialContext = p.dialer().DialContext
	// Deliveries run hundreds at a time, mostly to one host per tenant.
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 512
	return &http.Client{
		Transport:     transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
