package httpport

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

func (s server) trusted(addr netip.Addr) bool {
	for _, p := range s.config.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the request came through one of PASSPUSH_TRUSTED_PROXIES, whose forwarded
// headers say what the client asked for. Anyone else's are the client's own words and are ignored: otherwise a
// caller could make config.json or an install link point at a host of its choosing.
func (s server) fromTrustedProxy(r *http.Request) bool {
	addr, ok := peerAddr(r)
	return ok && s.trusted(addr)
}

// publicURL is PASSPUSH_PUBLIC_URL, or else the URL the client used: the Host header and whether the connection
// is TLS, overridden by Forwarded (RFC 7239) or X-Forwarded-Proto and X-Forwarded-Host only when a trusted proxy
// sent them.
func (s server) publicURL(r *http.Request) string {
	if s.config.PublicURL != "" {
		return strings.TrimRight(s.config.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !s.fromTrustedProxy(r) {
		return scheme + "://" + host
	}
	proto, fwdHost := forwardedProtoHost(r)
	if proto == "" {
		proto = strings.ToLower(firstHeaderValue(r, "X-Forwarded-Proto"))
	}
	if fwdHost == "" {
		fwdHost = firstHeaderValue(r, "X-Forwarded-Host")
	}
	if proto == "http" || proto == "https" {
		scheme = proto
	}
	if fwdHost != "" && !strings.ContainsAny(fwdHost, "/\\@ ") {
		host = fwdHost
	}
	return scheme + "://" + host
}

// forwardedProtoHost reads proto and host from the first element of the Forwarded header: the one the outermost
// proxy wrote.
func forwardedProtoHost(r *http.Request) (proto, host string) {
	first, _, _ := strings.Cut(r.Header.Get("Forwarded"), ",")
	for _, pair := range strings.Split(first, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "proto":
			proto = strings.ToLower(v)
		case "host":
			host = v
		}
	}
	return proto, host
}

// clientAddress is the address a request came from, for the security log: the peer's, or, behind trusted
// proxies, the last address of X-Forwarded-For that is not one of them (the earlier ones are the client's own
// words).
func (s server) clientAddress(r *http.Request) string {
	addr, ok := peerAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(hop.Unmap()) {
			return hop.Unmap().String()
		}
	}
	return addr.String()
}

// firstHeaderValue is the first of a comma-separated header's values: the one the outermost proxy set.
func firstHeaderValue(r *http.Request, name string) string {
	v, _, _ := strings.Cut(r.Header.Get(name), ",")
	return strings.TrimSpace(v)
}
