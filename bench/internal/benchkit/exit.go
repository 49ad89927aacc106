package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Missed is the error of a run that completed but missed n targets; Main exits 2 on it rather than 1, so that
// scripts tell a slow run from a broken one.
type Missed struct{ N int }

func (e Missed) Error() string { return fmt.Sprintf("%d target(s) missed", e.N) }

// Main runs a benchmark and exits: 1 with the usage when its flags are invalid, and after run 0, 2 on Missed, or
// 1 on any other error. The run gets a context that ends on SIGINT, SIGTERM or timeout, so that every wait in it
// has a deadline and an interrupted run still cleans up. name prefixes the error messages.
func Main(name string, invalid error, timeout time.Duration, run func(ctx context.Context) error) {
	if invalid != nil {
		fmt.Fprintln(os.Stderr, name+":", invalid)
		flag.Usage()
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	code := 0
	if err := run(ctx); err != nil {
		var miss Missed
		if errors.As(err, &miss) {
			code = 2
		} else {
			fmt.Fprintln(os.Stderr, name+":", err)
			code = 1
		}
	}
	cancel()
	stop()
	os.Exit(code)
}
