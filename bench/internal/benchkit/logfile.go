package benchkit

import (
	"bytes"
	"os"
	"strings"
)

// CountLines counts the lines of a file. The service logs warnings and errors only, so any line in its log is
// worth a look, and the summary says how many there were.
func CountLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}

// Tail returns the last n lines of a file, to show the service's last words in a summary or an error message
// without making the reader open the log. A file that cannot be read gives "".
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
