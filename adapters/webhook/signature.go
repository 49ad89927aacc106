package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the request's signature: "t=<unix seconds>,v1=<hex>", with one v1 per active webhook
// secret, each the HMAC-SHA256 of "<t>.<body>" keyed with that secret. The timestamp lets a receiver refuse a
// replay of an old request; several v1 let it keep working with either secret during a rotation.
const SignatureHeader = "X-Passpush-Signature"

// Sign returns the signature header value of body, sent at t, for each of secrets.
func Sign(t time.Time, secrets []string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
