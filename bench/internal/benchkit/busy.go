package benchkit

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// MachineTicks returns the busy and total ticks of all CPUs from /proc/stat, so that two readings give the share
// of the machine other work took. guest and guest_nice are left out: the kernel already counts them in user and
// nice, and adding them again would make a machine running VMs look busier than it is. It returns zeros where
// /proc/stat cannot be read, which callers take as "unknown".
func MachineTicks() (busy, all uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, v := range fields[1:] {
		if i >= 8 { // guest (8) and guest_nice (9)
			break
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		all += n
		if i != 3 && i != 4 { // idle and iowait are not busy
			busy += n
		}
	}
	return busy, all
}

// MachineBusy is the share (0..1) of the machine's CPU time that was busy over d. The benchmarks take it before
// they start: other work on the machine skews every figure they print, and the reader should know.
func MachineBusy(d time.Duration) float64 {
	b0, a0 := MachineTicks()
	time.Sleep(d)
	b1, a1 := MachineTicks()
	if a1 <= a0 {
		return 0
	}
	return float64(b1-b0) / float64(a1-a0)
}
