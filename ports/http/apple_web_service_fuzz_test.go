package httpport

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/passpush/passpush/app/query"
)

func TestParseApplePassAuthorization(t *testing.T) {
	for header, want := range map[string]string{
		"ApplePass abc123":  "abc123",
		"applepass  abc123": "abc123",
		" ApplePass abc ":   "abc",
		"ApplePass":         "",
		"ApplePass ":        "",
		"Bearer abc":        "",
		"ApplePass a b":     "",
		"ApplePass a\x00b":  "",
		"ApplePass é":       "",
		"":                  "",
		"ApplePassabc":      "",
	} {
		got, ok := parseApplePassAuthorization(header)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", header, got, ok, want)
		}
	}
}

// FuzzApplePassAuthorization: a token is never empty, never has a space or a control character, and the
// parser never panics.
func FuzzApplePassAuthorization(f *testing.F) {
	for _, s := range []string{"ApplePass abc", "applepass   x", "Bearer x", "ApplePass \x7f", "ApplePass " + strings.Repeat("a", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := parseApplePassAuthorization(header)
		if !ok {
			if token != "" {
				t.Fatalf("refused %q but returned %q", header, token)
			}
			return
		}
		if token == "" || len(token) > 512 || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("%q gave token %q", header, token)
		}
	})
}

// FuzzPassesUpdatedSince: a tag the service reads back is one it could have written, and reads the same.
func FuzzPassesUpdatedSince(f *testing.F) {
	for _, s := range []string{"", "0.1", "123.456", "-1.2", "1.2.3", "01.2", "9223372036854775807.9223372036854775807", "x", "1%2E2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := http.NewRequest(http.MethodGet, "/x?passesUpdatedSince="+url.QueryEscape(raw), nil)
		if err != nil {
			t.Skip()
		}
		tag, ok := parsePassesUpdatedSince(r)
		if !ok {
			if tag != (query.UpdateTag{}) {
				t.Fatalf("refused %q but returned %+v", raw, tag)
			}
			return
		}
		if tag.String() != raw || tag.TransactionID < 0 || tag.Sequence < 0 {
			t.Fatalf("%q read as %+v (%s)", raw, tag, tag)
		}
		if again, ok := query.ParseUpdateTag(tag.String()); !ok || again != tag {
			t.Fatalf("%s does not read back", tag)
		}
	})
}
