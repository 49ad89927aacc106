package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func readAll(t *testing.T, input string, size int) []batch {
	t.Helper()
	out := make(chan batch, 100)
	if err := readBatches(context.Background(), strings.NewReader(input), "acme", size, out); err != nil {
		t.Fatalf("readBatches: %v", err)
	}
	close(out)
	var got []batch
	for b := range out {
		got = append(got, b)
	}
	return got
}

func TestReadBatches(t *testing.T) {
	good := `{"passId":"p-%d","passType":"loyalty"}`
	line := func(i int) string { return strings.Replace(good, "%d", string(rune('0'+i)), 1) }
	tests := []struct {
		name       string
		input      string
		size       int
		wantPasses []int // passes per batch
		wantBad    []int // bad line numbers, in order
		wantLines  int
	}{
		{"empty file", "", 10, nil, nil, 0},
		{"one line without newline", line(1), 10, []int{1}, nil, 1},
		{"crlf line endings", line(1) + "\r\n" + line(2) + "\r\n", 10, []int{2}, nil, 2},
		{"blank lines count but are not bad", "\n" + line(1) + "\n\n   \n", 10, []int{1}, nil, 4},
		{"full batches", line(1) + "\n" + line(2) + "\n" + line(3) + "\n" + line(4) + "\n", 2, []int{2, 2}, nil, 4},
		{"bad lines by number", line(1) + "\n{\n" + `{"passId":"p"}` + "\n" + line(2) + "\n", 10, []int{2}, []int{2, 3}, 4},
		{"too long line", line(1) + "\n" + `{"passId":"p-2","passType":"` + strings.Repeat("x", maxImportLine) + `"}` + "\n" + line(3), 10, []int{2}, []int{2}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches := readAll(t, tt.input, tt.size)
			var passes, bad []int
			lines := 0
			for _, b := range batches {
				if len(b.passes) > 0 {
					passes = append(passes, len(b.passes))
				}
				for _, bl := range b.bad {
					bad = append(bad, bl.line)
				}
				lines = b.lastLine
			}
			if !slices.Equal(passes, tt.wantPasses) || !slices.Equal(bad, tt.wantBad) || lines != tt.wantLines {
				t.Errorf("passes per batch %v, bad lines %v, lines %d; want %v, %v, %d", passes, bad, lines, tt.wantPasses, tt.wantBad, tt.wantLines)
			}
		})
	}
}

func TestParseLine_explainsTheProblemInTheFilesTerms(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"passId":"p-1","passType":"x","data":{"points":1}}`, "data must be an object of string values"},
		{`{"passId":1}`, "passId must be a JSON string"},
		{`[1]`, "want a JSON object of a pass"},
		{`{"passId":"p 1","passType":"x"}`, "passId"},
		{`{"passId":"p-1"}`, "passType is required"},
		{`{"passId":"p-1","passType":"x"`, "not JSON"},
	}
	for _, tt := range tests {
		_, err := parseLine("acme", []byte(tt.line), false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseLine(%s) = %v, want an error with %q", tt.line, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "importLine") {
			t.Errorf("parseLine(%s) = %v: names a Go type", tt.line, err)
		}
	}
}

func FuzzReadBatches(f *testing.F) {
	f.Add(`{"passId":"p-1","passType":"loyalty","data":{"a":"b"}}` + "\n\n{bad\n")
	f.Add("\r\n\r\n")
	f.Fuzz(func(t *testing.T, input string) {
		batches := readAll(t, input, 3)
		seen := 0
		for _, b := range batches {
			if len(b.passes) > 3 {
				t.Fatalf("batch of %d passes, want at most 3", len(b.passes))
			}
			for _, p := range b.passes {
				if p.PassID == "" || p.Details.PassType == "" {
					t.Fatalf("invalid pass passed validation: %+v", p)
				}
			}
			if b.lastLine < seen {
				t.Fatalf("line numbers go back: %d after %d", b.lastLine, seen)
			}
			seen = b.lastLine
		}
	})
}
