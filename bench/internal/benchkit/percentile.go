package benchkit

import (
	"slices"
	"time"
)

// Percentile returns the q-quantile (0..1; 1 is the maximum) of d by the nearest-rank method, 0 for no samples.
// Callers usually pass sorted latencies, which it uses as they are; unsorted ones are sorted in a copy, so a
// caller that forgets to sort gets a right figure rather than a plausible wrong one.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		d = slices.Sorted(slices.Values(d))
	}
	i := int(q*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}
