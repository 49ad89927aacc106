package rebuild

import (
	"time"

	"github.com/passpush/passpush/app/rebuild"
)

// meter tells the caller's Progress how far a rebuild is, at most every tick.
type meter struct {
	tell        func(rebuild.Progress)
	start, last time.Time
	phase       string
	done, total int64
}

const tick = 200 * time.Millisecond

func newMeter(tell func(rebuild.Progress), start time.Time) *meter {
	return &meter{tell: tell, start: start}
}

func (m *meter) add(n int) {
	m.done += int64(n)
	m.total = max(m.total, m.done)
	m.report(false)
}

func (m *meter) report(now bool) {
	if m.tell == nil || (!now && time.Since(m.last) < tick) {
		return
	}
	m.last = time.Now()
	m.tell(rebuild.Progress{Phase: m.phase, Done: m.done, Total: m.total, Elapsed: time.Since(m.start)})
}
