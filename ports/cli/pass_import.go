package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/spf13/cobra"
)

const (
	defaultImportBatch = 1000
	maxImportBatch     = 50000
	// maxImportLine matches the HTTP API's body limit: a pass that cannot be PUT cannot be imported either.
	maxImportLine = 1 << 20
	// readModelWait bounds the wait for the projection after the last batch; a healthy one needs seconds.
	readModelWait = 5 * time.Minute
	progressEvery = time.Second
)

type importOptions struct {
	tenantID  string
	batchSize int
}

func newPassImportCommand(e *env) *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import --tenant ID FILE",
		Short: "Register the passes of a JSON lines file (FILE - reads standard input)",
		Long: `import registers one pass per line of FILE, each a JSON object:

  {"passId":"p-1","passType":"loyalty","email":"a@example.com","customId":"c-1","data":{"points":"10"}}

passId and passType are required; data values are strings. A bad line is reported on standard error with its
line number and skipped; the import goes on. Valid lines are stored in batches, one transaction each.
Running the same file again changes nothing: a pass whose details are the same records no event.

When the last batch is stored, import waits until the passes read model shows it, then prints a summary.
It exits non-zero only when it cannot go on (database, file or tenant errors), not for bad lines.`,
		Example: `  passpush pass import --tenant acme passes.jsonl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.batchSize < 1 || opts.batchSize > maxImportBatch {
				return fmt.Errorf("--batch-size must be between 1 and %d", maxImportBatch)
			}
			return e.importPasses(cmd, args[0], opts)
		},
	}
	cmd.Flags().StringVar(&opts.tenantID, "tenant", "", "tenant the passes belong to")
	cmd.Flags().IntVar(&opts.batchSize, "batch-size", defaultImportBatch, "passes stored per transaction")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}

func (e *env) importPasses(cmd *cobra.Command, file string, opts importOptions) (err error) {
	ctx := cmd.Context()
	in := cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open passes file: %w", err)
		}
		defer f.Close()
		in = f
	}

	b, err := e.openBackend(ctx)
	if err != nil {
		return err
	}
	defer e.closeBackend(b)
	if _, err := b.App.Queries.ActiveTenant.Handle(ctx, opts.tenantID); err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return fmt.Errorf("unknown or disabled tenant %q; add it with: passpush tenant add %s --sfmc-signing-secret …", opts.tenantID, opts.tenantID)
		}
		return err
	}

	// The import's events reach the read model through the passes projection. Running the buses here makes
	// the import finish with a read model that shows it even when no serve process is running.
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	busDone, err := b.RunBus(busCtx)
	if err != nil {
		stopBus()
		return fmt.Errorf("run buses: %w", err)
	}
	defer func() {
		stopBus()
		if busErr := <-busDone; busErr != nil && !errors.Is(busErr, context.Canceled) {
			err = errors.Join(err, fmt.Errorf("stop buses: %w", busErr))
		}
	}()

	imp := importer{
		backend:  b,
		tenantID: opts.tenantID,
		stderr:   cmd.ErrOrStderr(),
		terminal: isTerminal(cmd.ErrOrStderr()),
		start:    time.Now(),
	}
	imp.lastProgress = imp.start
	if err := imp.run(ctx, in, opts.batchSize); err != nil {
		return err
	}
	elapsed := time.Since(imp.start)
	perSecond := float64(imp.valid) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(cmd.OutOrStdout(), "imported %s into tenant %s: %d lines, %d created, %d changed, %d unchanged, %d bad, in %s (%.0f passes/s)\n",
		file, opts.tenantID, imp.lines, imp.result.Created, imp.result.Changed, imp.result.Unchanged, imp.bad,
		elapsed.Round(time.Millisecond), perSecond)
	return nil
}

// importer stores the passes of one file and counts what happened.
type importer struct {
	backend      *Backend
	tenantID     string
	stderr       io.Writer
	terminal     bool
	start        time.Time
	lastProgress time.Time

	lines, valid, bad int
	printed           int // lines counted in the last progress line
	result            command.ImportPassesResult
	// last is the last pass any batch changed: once the read model shows it, it shows the whole import,
	// because the projection applies events in the order they were stored.
	last *command.RegisterPassResultOf
}

// batch is a run of parsed lines: the valid passes to store and the bad lines to report.
type batch struct {
	passes              []command.RegisterPass
	bad                 []badLine
	firstLine, lastLine int
}

type badLine struct {
	line int
	err  error
}

func (imp *importer) run(ctx context.Context, in io.Reader, batchSize int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Parsing runs ahead of the database by a batch or two, so the two overlap.
	batches := make(chan batch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, in, imp.tenantID, batchSize, batches)
	}()

	for bt := range batches {
		for _, bl := range bt.bad {
			imp.clearProgress()
			fmt.Fprintf(imp.stderr, "line %d: %v\n", bl.line, bl.err)
		}
		imp.bad += len(bt.bad)
		if len(bt.passes) > 0 {
			res, err := imp.backend.App.Commands.ImportPasses.Handle(ctx, command.ImportPasses{TenantID: imp.tenantID, Passes: bt.passes})
			if err != nil {
				imp.clearProgress()
				return fmt.Errorf("import stopped in the batch of lines %d-%d (the lines before are stored; running the import again finishes it): %w",
					bt.firstLine, bt.lastLine, err)
			}
			imp.result.Created += res.Created
			imp.result.Changed += res.Changed
			imp.result.Unchanged += res.Unchanged
			if res.Last != nil {
				imp.last = res.Last
			}
		}
		imp.valid += len(bt.passes)
		imp.lines = bt.lastLine
		imp.progress(false)
	}
	if err := <-readErr; err != nil {
		imp.clearProgress()
		return fmt.Errorf("read passes after line %d: %w", imp.lines, err)
	}
	imp.progress(true)
	return imp.waitForReadModel(ctx)
}

func (imp *importer) waitForReadModel(ctx context.Context) error {
	if imp.last == nil {
		return nil
	}
	fmt.Fprintf(imp.stderr, "waiting for the passes read model to show pass %s\n", imp.last.PassID)
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	_, err := imp.backend.App.Queries.PassByID.Handle(ctx, query.PassByID{
		TenantID:         imp.tenantID,
		PassID:           imp.last.PassID,
		MinStreamVersion: imp.last.StreamVersion,
	})
	if err != nil {
		return fmt.Errorf("the passes are stored, but the read model did not show them: %w", err)
	}
	return nil
}

// progress prints lines/s at most once a second, and always at the end.
func (imp *importer) progress(final bool) {
	now := time.Now()
	if !final && now.Sub(imp.lastProgress) < progressEvery {
		return
	}
	if final && imp.printed == imp.lines && imp.lines > 0 && !imp.terminal {
		return // the last periodic line already says it
	}
	imp.lastProgress, imp.printed = now, imp.lines
	rate := float64(imp.lines) / max(now.Sub(imp.start).Seconds(), 1e-9)
	line := fmt.Sprintf("%d lines, %d bad, %.0f lines/s", imp.lines, imp.bad, rate)
	if imp.terminal {
		// One line that updates in place; the final one stays.
		fmt.Fprintf(imp.stderr, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(imp.stderr)
		}
		return
	}
	fmt.Fprintln(imp.stderr, line)
}

// clearProgress removes the in-place progress line before other output, so the two do not run together.
func (imp *importer) clearProgress() {
	if imp.terminal {
		fmt.Fprint(imp.stderr, "\r\033[K")
	}
}

// importLine is one line of an import file.
type importLine struct {
	PassID string `json:"passId"`
	pass.Details
}

// readBatches parses in line by line and sends batches of up to size valid passes, with the bad lines met on
// the way.
func readBatches(ctx context.Context, in io.Reader, tenantID string, size int, out chan<- batch) error {
	r := bufio.NewReaderSize(in, 256<<10)
	bt := batch{passes: make([]command.RegisterPass, 0, size)}
	send := func() error {
		select {
		case out <- bt:
		case <-ctx.Done():
			return ctx.Err()
		}
		bt = batch{passes: make([]command.RegisterPass, 0, size)}
		return nil
	}
	for n := 1; ; n++ {
		line, tooLong, err := readLine(r, maxImportLine)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		eof := err != nil
		// At the end of the file, ReadSlice returns what follows the last newline: nothing, or a last line
		// without one.
		if !eof || len(line) > 0 || tooLong {
			if bt.firstLine == 0 {
				bt.firstLine = n
			}
			bt.lastLine = n
			p, parseErr := parseLine(tenantID, line, tooLong)
			switch {
			case parseErr != nil:
				bt.bad = append(bt.bad, badLine{line: n, err: parseErr})
			case p != nil:
				bt.passes = append(bt.passes, *p)
			}
			if len(bt.passes) == size {
				if err := send(); err != nil {
					return err
				}
			}
		}
		if eof {
			if bt.firstLine != 0 {
				return send()
			}
			return nil
		}
	}
}

// readLine returns the next line without its line ending. A line longer than limit is consumed and reported
// as tooLong instead of stopping the import.
func readLine(r *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > limit+2 { // +2 leaves room for "\r\n"
			tooLong = true
		} else {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			line = nil
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// parseLine returns the pass on a line, nil for a blank line, or why the line is bad.
func parseLine(tenantID string, line []byte, tooLong bool) (*command.RegisterPass, error) {
	if tooLong {
		return nil, fmt.Errorf("longer than %d bytes", maxImportLine)
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil
	}
	var l importLine
	if err := json.Unmarshal(line, &l); err != nil {
		return nil, describeJSONError(err)
	}
	if err := pass.ValidateID(l.PassID); err != nil {
		return nil, err
	}
	if err := l.Details.Validate(); err != nil {
		return nil, err
	}
	return &command.RegisterPass{TenantID: tenantID, PassID: l.PassID, Details: l.Details}, nil
}

// describeJSONError names the field in the words of the file format, not of the Go types that read it.
func describeJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := strings.TrimPrefix(typeErr.Field, "Details.")
		if field == "" {
			return fmt.Errorf("want a JSON object of a pass, got JSON %s", typeErr.Value)
		}
		if field == "data" || strings.HasPrefix(field, "data.") {
			return fmt.Errorf("data must be an object of string values, got JSON %s", typeErr.Value)
		}
		return fmt.Errorf("%s must be a JSON %s, got JSON %s", field, typeErr.Type, typeErr.Value)
	}
	return fmt.Errorf("not JSON: %w", err)
}
