package installlink_test

import (
	"errors"
	"testing"
	"time"

	"github.com/passpush/passpush/domain/installlink"
)

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	expires := now.Add(time.Hour).Unix()
	sig := installlink.Sign(key, "acme", "p-1", expires)
	if len(sig) != 64 {
		t.Fatalf("signature %q is not 32 bytes of hex", sig)
	}
	if err := installlink.Verify(key, "acme", "p-1", expires, sig, now); err != nil {
		t.Fatalf("a good link: %v", err)
	}
	for name, tc := range map[string]struct {
		key          []byte
		tenant, pass string
		expires      int64
		sig          string
		now          time.Time
	}{
		"expired":        {key, "acme", "p-1", expires, sig, now.Add(2 * time.Hour)},
		"another tenant": {key, "acm", "p-1", expires, sig, now},
		"another pass":   {key, "acme", "p-2", expires, sig, now},
		"moved parts":    {key, "acme\x00p", "-1", expires, sig, now},
		"later expiry":   {key, "acme", "p-1", expires + 1, sig, now},
		"another key":    {[]byte("another key of 32 bytes, exactly"), "acme", "p-1", expires, sig, now},
		"no key":         {nil, "acme", "p-1", expires, sig, now},
		"not hex":        {key, "acme", "p-1", expires, "zz" + sig[2:], now},
		"short":          {key, "acme", "p-1", expires, sig[:62], now},
		"empty":          {key, "acme", "p-1", expires, "", now},
	} {
		if err := installlink.Verify(tc.key, tc.tenant, tc.pass, tc.expires, tc.sig, tc.now); !errors.Is(err, installlink.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", name, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	if got, err := installlink.Expiry(now, time.Hour); err != nil || got != now.Unix()+3600 {
		t.Errorf("Expiry(1h) = %d, %v", got, err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, installlink.MaxTTL + time.Second} {
		if _, err := installlink.Expiry(now, ttl); !errors.Is(err, installlink.ErrInvalidTTL) {
			t.Errorf("Expiry(%s) = %v, want ErrInvalidTTL", ttl, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Add("acme", "p-1", int64(1_900_000_000), installlink.Sign(key, "acme", "p-1", 1_900_000_000))
	f.Fuzz(func(t *testing.T, tenant, pass string, expires int64, sig string) {
		err := installlink.Verify(key, tenant, pass, expires, sig, time.Unix(1_800_000_000, 0))
		if err == nil && sig != installlink.Sign(key, tenant, pass, expires) {
			t.Fatalf("verified a signature that Sign does not make: %q", sig)
		}
	})
}
