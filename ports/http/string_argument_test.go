package httpport

import (
	"encoding/json"
	"testing"
)

var stringArgumentSeeds = []string{
	``, `""`, `"p-1"`, `"alice@example.com"`, `"caf\u00e9"`, `"café"`, `"a\"b"`, `"a\\b"`, `"\u2028"`, "\"a\tb\"",
	"\"\xff\xfe\"", `"`, `"a`, `a"`, `"a""`, `"a" `, ` "a"`, `12`, `-1.5e3`, `null`, `true`, `{"a":"b"}`, `["a"]`,
	"\"\x7f\"", `"a"b"`,
}

// TestStringArgument_answersAsEncodingJSON: every seed, plain or not, gives encoding/json's value.
func TestStringArgument_answersAsEncodingJSON(t *testing.T) {
	for _, seed := range stringArgumentSeeds {
		if got, want := stringArgument(json.RawMessage(seed)), decodedStringArgument(json.RawMessage(seed)); got != want {
			t.Errorf("stringArgument(%q) = %q, encoding/json gives %q", seed, got, want)
		}
	}
}

// FuzzStringArgument compares stringArgument with encoding/json's answer on any bytes, valid JSON or not.
//
//	go test -run XXX -fuzz FuzzStringArgument ./ports/http/
func FuzzStringArgument(f *testing.F) {
	for _, seed := range stringArgumentSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := stringArgument(raw), decodedStringArgument(raw); got != want {
			t.Errorf("stringArgument(%q) = %q, encoding/json gives %q", raw, got, want)
		}
	})
}

// BenchmarkPassMatchOf reads the identifiers of a split's usual inArguments: a passId, the others absent.
func BenchmarkPassMatchOf(b *testing.B) {
	args := map[string]json.RawMessage{"passId": json.RawMessage(`"pass-000123"`)}
	b.ReportAllocs()
	for b.Loop() {
		if m, err := passMatchOf(args); err != nil || m.PassID != "pass-000123" {
			b.Fatal(m, err)
		}
	}
}
