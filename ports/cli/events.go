package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/spf13/cobra"
)

func newEventsCommand(e *env) *cobra.Command {
	events := &cobra.Command{
		Use:   "events",
		Short: "Export a tenant's recorded events, or archive old events out of the store",
	}
	events.AddCommand(newEventsExportCommand(e), newEventsArchiveCommand(e))
	return events
}

// exportOptions are the flags of events export.
type exportOptions struct {
	tenantID, journeyID, passID string
	types                       []string
	after                       int64
	since, until                string
	output                      string
}

func newEventsExportCommand(e *env) *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use:   "export --tenant T [--journey J] [--pass P] [--type TYPE …] [--after POSITION] [--since TIME] [--until TIME] [--output FILE]",
		Short: "Write a tenant's recorded events as JSON lines, in the order they were recorded",
		Long: `export writes the tenant's events from the audit log, one JSON object a line, in the order they were recorded:
{"position","type","occurredAt","streamId","journeyId","passId","correlationId","data"}, data being the event as
it was stored. The audit log keeps every event, also those archived from the event store; it is as recent as
the projections that serve runs.

position is the event's place in the audit log, the same number the feed (GET /api/{tenantId}/events) uses. An
export that stops half way resumes with --after and the position of the last line it wrote; its progress lines
on stderr name that position too.

--journey, --pass, --type (repeated, or comma separated), --since and --until (RFC 3339 times, or dates, UTC)
keep only the events that match: --since includes its time, --until excludes it.

--output FILE writes to FILE.partial and renames it to FILE once the export is complete, so FILE is never half
written. An export that fails or is interrupted leaves FILE.partial, cut back to its last whole line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := opts.query()
			if err != nil {
				return err
			}
			return exportEvents(cmd.Context(), e, q, opts.output, cmd.OutOrStdout(), e.io.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.tenantID, "tenant", "", "the tenant whose events to export")
	f.StringVar(&opts.journeyID, "journey", "", "only the events of this journey")
	f.StringVar(&opts.passID, "pass", "", "only the events of this pass")
	f.StringSliceVar(&opts.types, "type", nil, "only events of this type, e.g. PushUpdateFailed; repeat for several")
	f.Int64Var(&opts.after, "after", 0, "start after this position: the last one an interrupted export wrote")
	f.StringVar(&opts.since, "since", "", "only events that occurred at or after this time (RFC 3339 or 2006-01-02)")
	f.StringVar(&opts.until, "until", "", "only events that occurred before this time (RFC 3339 or 2006-01-02)")
	f.StringVar(&opts.output, "output", "", "write to this file instead of stdout")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

// query checks the flags before anything opens the database.
func (o exportOptions) query() (query.Events, error) {
	q := query.Events{
		TenantID: o.tenantID, JourneyID: o.journeyID, PassID: o.passID, Types: o.types, After: o.after,
		Limit: query.MaxEventsLimit,
	}
	if err := tenant.ValidateID(o.tenantID); err != nil {
		return q, fmt.Errorf("--tenant %q: %w", o.tenantID, err)
	}
	if o.after < 0 {
		return q, errors.New("--after must be 0 or a position an export wrote")
	}
	var err error
	if q.Since, err = parseExportTime("--since", o.since); err != nil {
		return q, err
	}
	if q.Until, err = parseExportTime("--until", o.until); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, errors.New("--until must be after --since")
	}
	return q, nil
}

func parseExportTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)", flag, v)
}

// exportEvents writes the events q selects to output, or to stdout when output is empty.
func exportEvents(ctx context.Context, e *env, q query.Events, output string, stdout, stderr io.Writer) error {
	b, err := e.openBackend(ctx)
	if err != nil {
		return err
	}
	defer e.closeBackend(b)
	// A disabled tenant's events are exported too: its history is what an operator may need most.
	if _, err := b.App.Queries.TenantByID.Handle(ctx, q.TenantID); err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return fmt.Errorf("unknown tenant %q: passpush tenant list shows the tenants", q.TenantID)
		}
		return err
	}

	dst, err := openExportOutput(output, stdout)
	if err != nil {
		return err
	}
	w := newLineWriter(dst.w, q.After)
	p := exportProgress{stderr: stderr, terminal: isTerminal(stderr), start: time.Now(), last: q.After}
	err = query.EachEvent(ctx, b.App.Queries.Events, q, func(ev query.Event) error {
		line, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode the event at position %d: %w", ev.Position, err)
		}
		if err := w.writeLine(line, ev.Position); err != nil {
			return err
		}
		p.wrote(ev.Position)
		return nil
	})
	if flushErr := w.flush(); err == nil {
		err = flushErr
	}
	if err != nil {
		// What was written is whole lines up to w.written, whatever stopped the export.
		dst.abandon(w.size)
		p.count, p.last = w.lines, w.written
		p.finish()
		where := ""
		if output != "" {
			where = fmt.Sprintf(" (in %s)", dst.partial)
		}
		return fmt.Errorf("export stopped after %d events%s; resume with --after %d: %w", w.lines, where, w.written, err)
	}
	if err := dst.commit(); err != nil {
		return err
	}
	p.finish()
	return nil
}

// exportOutput is where the lines go: stdout, or FILE.partial renamed to FILE once complete.
type exportOutput struct {
	w       io.Writer
	file    *os.File
	partial string
	final   string
}

func openExportOutput(output string, stdout io.Writer) (*exportOutput, error) {
	if output == "" {
		return &exportOutput{w: stdout}, nil
	}
	partial := output + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the export file: %w", err)
	}
	return &exportOutput{w: f, file: f, partial: partial, final: output}, nil
}

// commit makes the file durable and gives it its name in one rename, so FILE is either absent or complete.
func (o *exportOutput) commit() error {
	if o.file == nil {
		return nil
	}
	if err := o.file.Sync(); err != nil {
		_ = o.file.Close()
		return fmt.Errorf("sync %s: %w", o.partial, err)
	}
	if err := o.file.Close(); err != nil {
		return fmt.Errorf("close %s: %w", o.partial, err)
	}
	if err := os.Rename(o.partial, o.final); err != nil {
		return fmt.Errorf("rename %s to %s: %w", o.partial, filepath.Base(o.final), err)
	}
	return nil
}

// abandon cuts the partial file back to its whole lines, size bytes, and keeps it: they are what a resumed
// export continues.
func (o *exportOutput) abandon(size int64) {
	if o.file != nil {
		_ = o.file.Truncate(size)
		_ = o.file.Sync()
		_ = o.file.Close()
	}
}

// lineWriter buffers whole lines and writes only whole lines: bufio.Writer alone writes a line that does not fit
// its buffer in two parts, and a process stopped between them would leave half a line.
type lineWriter struct {
	dst io.Writer
	buf []byte
	// pending is the position of the last line in buf; written that of the last line written, and lines how
	// many were.
	pending, written     int64
	bufferedLines, lines int64
	// size is the bytes of the whole lines written: a short write (a full disk) is cut back to it.
	size int64
}

const exportBuffer = 256 << 10

func newLineWriter(dst io.Writer, after int64) *lineWriter {
	return &lineWriter{dst: dst, buf: make([]byte, 0, exportBuffer), written: after}
}

func (l *lineWriter) writeLine(line []byte, position int64) error {
	if len(l.buf)+len(line)+1 > cap(l.buf) {
		if err := l.flush(); err != nil {
			return err
		}
	}
	if len(line)+1 > cap(l.buf) {
		// A line larger than the buffer goes out on its own, in one write.
		if _, err := l.dst.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("write the export: %w", err)
		}
		l.written, l.lines, l.size = position, l.lines+1, l.size+int64(len(line)+1)
		return nil
	}
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	l.pending, l.bufferedLines = position, l.bufferedLines+1
	return nil
}

func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.dst.Write(l.buf); err != nil {
		l.buf, l.bufferedLines = l.buf[:0], 0
		// A short write may have left part of the buffer: the caller reports only the lines before it.
		return fmt.Errorf("write the export: %w", err)
	}
	l.written, l.lines, l.size = l.pending, l.lines+l.bufferedLines, l.size+int64(len(l.buf))
	l.buf, l.bufferedLines = l.buf[:0], 0
	return nil
}

// exportProgress prints events/s and the last position written at most once a second, and at the end.
type exportProgress struct {
	stderr       io.Writer
	terminal     bool
	start        time.Time
	lastProgress time.Time
	count        int64
	last         int64
}

func (p *exportProgress) wrote(position int64) {
	p.count++
	p.last = position
	if now := time.Now(); now.Sub(p.lastProgress) >= progressEvery {
		p.lastProgress = now
		p.print(false)
	}
}

func (p *exportProgress) finish() { p.print(true) }

func (p *exportProgress) print(final bool) {
	elapsed := time.Since(p.start)
	rate := float64(p.count) / max(elapsed.Seconds(), 1e-9)
	line := fmt.Sprintf("%d events, %.0f events/s, last position %d", p.count, rate, p.last)
	if final {
		line = fmt.Sprintf("exported %d events in %s (%.0f events/s); last position %d", p.count, elapsed.Round(time.Millisecond), rate, p.last)
	}
	if p.terminal {
		fmt.Fprintf(p.stderr, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(p.stderr)
		}
		return
	}
	fmt.Fprintln(p.stderr, line)
}
