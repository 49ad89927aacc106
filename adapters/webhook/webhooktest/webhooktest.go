// Package webhooktest helps tests and benchmarks whose webhook receiver is a local HTTP server: the policy that
// lets passpush call it, and a receiver's check of the signature, written from the header's documented format
// rather than from the channel's code, as a tenant's receiver would.
package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/webhook"
)

// AllowCIDRs is PASSPUSH_WEBHOOK_ALLOW_CIDRS for a receiver on this machine.
const AllowCIDRs = "127.0.0.0/8,::1/128"

// Env is the environment a passpush binary needs to call a receiver on this machine (httptest.NewServer).
var Env = []string{"PASSPUSH_ALLOW_INSECURE_WEBHOOKS=true", "PASSPUSH_WEBHOOK_ALLOW_CIDRS=" + AllowCIDRs}

// LocalConfig is the webhook config that lets an in-process passpush call a receiver on this machine over http.
func LocalConfig() webhook.Config {
	return webhook.Config{AllowInsecure: true,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

// Tolerance is how far a signature's timestamp may be from the receiver's clock.
const Tolerance = 5 * time.Minute

// Verify checks an X-Passpush-Signature header as the README tells a receiver to: the timestamp within
// Tolerance of now, and one v1 equal (in constant time) to the HMAC-SHA256 of "<t>.<body>" under secret.
func Verify(header string, body []byte, secret string, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		key, value, _ := strings.Cut(part, "=")
		switch key {
		case "t":
			ts = value
		case "v1":
			sigs = append(sigs, value)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("signature %q has no timestamp", header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("signature timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range sigs {
		if got, err := hex.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches the secret")
}
