package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/passpush/passpush/app/push"
)

// failure turns a request's error into an outcome whose reason names the error's class and never holds the
// URL's userinfo, path or query: the reason is stored in events and shown in the audit log, and net/http's
// errors quote the whole URL, which may carry a token.
func failure(u *url.URL, err error) push.Outcome {
	var addrErr *AddressError
	if errors.As(err, &addrErr) {
		return push.Outcome{Kind: push.Rejected, Reason: addrErr.Error()}
	}
	target := u.Scheme + "://" + u.Host
	inner, op := err, "Post"
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		inner, op = urlErr.Err, urlErr.Op
	}
	reason := fmt.Sprintf("webhook %s %s failed (%s): %s", op, target, errorClass(inner), scrub(inner.Error(), u))
	return push.Outcome{Kind: push.Retry, Reason: reason}
}

// errorClass is a short stable name for what went wrong, for reading outcomes at a glance.
func errorClass(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return "tls"
	default:
		return "network"
	}
}

// scrub removes from text whatever of u could be a credential, should an inner error quote the URL too.
func scrub(text string, u *url.URL) string {
	for _, secret := range []string{u.String(), u.RawQuery, u.User.String(), u.RawPath, u.Path} {
		if len(secret) > 1 {
			text = strings.ReplaceAll(text, secret, "…")
		}
	}
	return text
}
