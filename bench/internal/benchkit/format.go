package benchkit

import (
	"strconv"
	"time"
)

// Millis formats d in milliseconds with prec decimals, the unit the latency targets are written in.
func Millis(d time.Duration, prec int) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', prec, 64) + " ms"
}

// Secs formats d in seconds with two decimals, enough to compare phases that last seconds to minutes.
func Secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }

// MiB converts bytes to mebibytes, the unit the memory targets are written in.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// Plural picks the word for n, so that summaries read as sentences.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
