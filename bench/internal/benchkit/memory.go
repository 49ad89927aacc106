package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory reads the peak resident set (VmHWM) and the current one (VmRSS) of a process, in bytes. The peak is what
// the memory targets are about: the current RSS after a run says little about what the run needed.
func Memory(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmHWM":
			dst = &hwm
		case "VmRSS":
			dst = &rss
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s in /proc/%d/status: %w", name, pid, err)
		}
		*dst = kb << 10
	}
	if hwm == 0 {
		return 0, 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return hwm, rss, nil
}

// PeakRSS is this process's VmHWM in bytes, for benchmarks that run the service in process and so can only
// measure the process as a whole.
func PeakRSS() (int64, error) {
	hwm, _, err := Memory(os.Getpid())
	return hwm, err
}
