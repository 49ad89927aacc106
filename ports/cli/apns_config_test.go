package cli

import (
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/apple"
)

func TestDefaultAPNsURL_isTheAppleChannels(t *testing.T) {
	if DefaultAPNsURL != apple.DefaultAPNsURL {
		t.Fatalf("DefaultAPNsURL = %q, the Apple channel's is %q", DefaultAPNsURL, apple.DefaultAPNsURL)
	}
}

func TestConfigValidate_APNsURL(t *testing.T) {
	valid := Config{HTTPAddr: ":8080", LogLevel: "info", DBMaxConns: "20", DBMaxIdleTime: "5m"}
	for url, ok := range map[string]bool{
		"":                               true,
		DefaultAPNsURL:                   true,
		"https://127.0.0.1:8443":         true,
		"https://apns-fake.internal/":    true,
		"http://api.push.apple.com":      false, // never in the clear
		"api.push.apple.com":             false,
		"https://api.push.apple.com/3/":  false,
		"https://api.push.apple.com?a=b": false,
	} {
		c := valid
		c.APNsURL = url
		err := c.Validate()
		if ok && err != nil || !ok && (err == nil || !strings.Contains(err.Error(), "PASSPUSH_APNS_URL")) {
			t.Errorf("PASSPUSH_APNS_URL=%q: Validate() = %v", url, err)
		}
	}
}
