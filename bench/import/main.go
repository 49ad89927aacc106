// Command import measures `passpush pass import`: it generates N passes as JSON lines, adds a tenant and imports
// the file with the passpush binary built from this tree, the way an operator would, then prints passes/s.
//
//	go run ./bench/import -n 100000                                   # SQLite file in a temp dir
//	go run ./bench/import -n 100000 -database-url postgres://…       # PostgreSQL
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/secretbox"
)

// Targets from the foundation issue, on a 2-core machine.
const (
	targetPostgres = 5000
	targetSQLite   = 3000
)

type options struct {
	n           int
	databaseURL string
	batchSize   int
	binary      string
}

func main() {
	var opts options
	flag.IntVar(&opts.n, "n", 100000, "passes to import")
	flag.StringVar(&opts.databaseURL, "database-url", "", "database to import into (postgres://… or sqlite:PATH); empty means a new SQLite file in a temp dir")
	flag.IntVar(&opts.batchSize, "batch-size", 1000, "passes per transaction (pass import --batch-size)")
	flag.StringVar(&opts.binary, "binary", "", "passpush binary to run; empty builds one from this tree")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench/import:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts options) error {
	if opts.n < 1 {
		return errors.New("-n must be at least 1")
	}
	dir, err := os.MkdirTemp("", "passpush-bench-")
	if err != nil {
		return fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	if opts.binary == "" {
		opts.binary = filepath.Join(dir, "passpush")
		// Without -race or coverage: the figure is about the binary operators run.
		build := exec.CommandContext(ctx, "go", "build", "-o", opts.binary, "github.com/passpush/passpush")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build passpush: %w", err)
		}
	}
	target := targetPostgres
	backend := "PostgreSQL"
	if opts.databaseURL == "" {
		opts.databaseURL = "sqlite:" + filepath.Join(dir, "passpush.db")
	}
	if strings.HasPrefix(opts.databaseURL, "sqlite:") {
		target, backend = targetSQLite, "SQLite"
	}

	file := filepath.Join(dir, "passes.jsonl")
	if err := writePasses(file, opts.n); err != nil {
		return err
	}
	// A tenant of its own per run, so every pass is new even when the database is reused.
	tenantID := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	p := passpush{binary: opts.binary, dir: dir, databaseURL: opts.databaseURL, secretKey: secretbox.GenerateKeyText()}
	if _, err := p.run(ctx, "tenant", "add", tenantID, "--sfmc-signing-secret", "bench-import-sfmc-secret"); err != nil {
		return err
	}

	start := time.Now()
	out, err := p.run(ctx, "pass", "import", "--tenant", tenantID, "--batch-size", fmt.Sprint(opts.batchSize), file)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	created := regexp.MustCompile(`(\d+) created`).FindStringSubmatch(out)
	if created == nil || created[1] != fmt.Sprint(opts.n) {
		return fmt.Errorf("import did not create %d passes: %s", opts.n, out)
	}
	rate := float64(opts.n) / elapsed.Seconds()
	verdict := "meets"
	if rate < float64(target) {
		verdict = "MISSES"
	}
	fmt.Print(out)
	fmt.Printf("%s: imported %d passes in %s, read model included: %.0f passes/s (%s the target of %d/s)\n",
		backend, opts.n, elapsed.Round(time.Millisecond), rate, verdict, target)
	return nil
}

// writePasses writes n passes shaped like a loyalty programme's export.
func writePasses(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create passes file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, `{"passId":"pass-%08d","passType":"loyalty","email":"member%d@example.com","customId":"m-%d","data":{"points":"%d","tier":"%s","name":"Member %d"}}`+"\n",
			i, i, i, (i*37)%5000, []string{"bronze", "silver", "gold"}[i%3], i)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write passes file: %w", err)
	}
	return f.Close()
}

type passpush struct {
	binary, dir, databaseURL string
	// secretKey is the run's PASSPUSH_SECRET_KEY, which PostgreSQL requires: the run's database is its own.
	secretKey string
}

// run runs passpush with only the database configured, passing its progress through to stderr.
func (p passpush) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, p.binary, args...)
	cmd.Dir = p.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PASSPUSH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PASSPUSH_DATABASE_URL="+p.databaseURL, "PASSPUSH_LOG_LEVEL=warn", "PASSPUSH_SECRET_KEY="+p.secretKey)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(os.Stderr)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("passpush %s: %w", args[0]+" "+args[1], err)
	}
	return stdout.String(), nil
}
