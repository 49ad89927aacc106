package benchkit

import (
	"fmt"
	"os"
	"time"
)

// Logf writes a progress line to stderr with the wall-clock time, so that a slow phase shows while it runs and
// stdout keeps only the summary.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
