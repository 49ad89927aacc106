package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/passpush/passpush/app/rebuild"
)

// progressBar draws a rebuild's progress on stderr: a bar redrawn in place on a terminal, a line every few
// seconds in a log.
type progressBar struct {
	w        io.Writer
	terminal bool
	drawn    bool
	last     time.Time
}

const (
	barWidth = 30
	// logEvery spaces the lines written when stderr is not a terminal.
	logEvery = 5 * time.Second
)

func newProgressBar(w io.Writer, terminal bool) *progressBar {
	return &progressBar{w: w, terminal: terminal}
}

func (b *progressBar) show(p rebuild.Progress) {
	if !b.terminal && time.Since(b.last) < logEvery && b.drawn {
		return
	}
	b.last = time.Now()
	line := progressLine(p)
	if b.terminal {
		fmt.Fprintf(b.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
	b.drawn = true
}

func (b *progressBar) end() {
	if b.terminal && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// progressLine is "fill [=====>    ]  45%  450000/1000000 events  52000 events/s  11s left".
func progressLine(p rebuild.Progress) string {
	fraction := 1.0
	if p.Total > 0 {
		fraction = min(1, float64(p.Done)/float64(p.Total))
	}
	filled := int(fraction * barWidth)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Done) / s
	}
	left := "?"
	if rate > 0 {
		left = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%-8s [%s] %3.0f%%  %d/%d events  %.0f events/s  %s left",
		p.Phase, bar, 100*fraction, p.Done, p.Total, rate, left)
}
