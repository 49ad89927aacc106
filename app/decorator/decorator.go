// Package decorator wraps every command and query handler of the application in the same logging and metrics,
// as wild-workouts-go-ddd-example's common/decorator does, so that no handler times, counts or logs its own
// calls. The handlers have a few shapes (most take a value and return a result and an error); each shape has its
// interface and its Apply function here.
//
// The wrappers are on the execute path, thousands of calls a second: the handler's name and its metric series
// are looked up once, when the handler is wrapped, and a call logs only when debug logging is on.
package decorator

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Metrics hands out the series one handler's calls are recorded in.
type Metrics interface {
	// Handler returns the recorder of the calls of the handler named name; kind is "command" or "query".
	Handler(kind, name string) Recorder
}

// Recorder records one handler's calls.
type Recorder interface {
	// Done records a call that took d and ended with err (nil on success).
	Done(d time.Duration, err error)
}

// CommandHandler is a command handler that returns a result.
type CommandHandler[C, R any] interface {
	Handle(ctx context.Context, cmd C) (R, error)
}

// VoidCommandHandler is a command handler that returns only an error.
type VoidCommandHandler[C any] interface {
	Handle(ctx context.Context, cmd C) error
}

// PairCommandHandler is a command handler that returns two results, as SaveTenant does (the tenant, and whether
// it was created).
type PairCommandHandler[C, R1, R2 any] interface {
	Handle(ctx context.Context, cmd C) (R1, R2, error)
}

// QueryHandler is a query handler.
type QueryHandler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}

// VoidQueryHandler is a query handler that returns only an error, as CheckInstallLink does.
type VoidQueryHandler[Q any] interface {
	Handle(ctx context.Context, q Q) error
}

// ListQueryHandler is a query handler that takes no argument, as ListTenants does.
type ListQueryHandler[R any] interface {
	Handle(ctx context.Context) (R, error)
}

// ApplyCommandDecorators wraps h in the logging and metrics of every handler.
func ApplyCommandDecorators[C, R any](h CommandHandler[C, R], log *logrus.Entry, metrics Metrics) CommandHandler[C, R] {
	return commandDecorator[C, R]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyVoidCommandDecorators is ApplyCommandDecorators for a handler that returns only an error.
func ApplyVoidCommandDecorators[C any](h VoidCommandHandler[C], log *logrus.Entry, metrics Metrics) VoidCommandHandler[C] {
	return voidCommandDecorator[C]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyPairCommandDecorators is ApplyCommandDecorators for a handler that returns two results.
func ApplyPairCommandDecorators[C, R1, R2 any](h PairCommandHandler[C, R1, R2], log *logrus.Entry, metrics Metrics) PairCommandHandler[C, R1, R2] {
	return pairCommandDecorator[C, R1, R2]{base: h, calls: newCalls(h, "command", log, metrics)}
}

// ApplyQueryDecorators wraps h in the logging and metrics of every handler.
func ApplyQueryDecorators[Q, R any](h QueryHandler[Q, R], log *logrus.Entry, metrics Metrics) QueryHandler[Q, R] {
	return queryDecorator[Q, R]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// ApplyVoidQueryDecorators is ApplyQueryDecorators for a query that returns only an error.
func ApplyVoidQueryDecorators[Q any](h VoidQueryHandler[Q], log *logrus.Entry, metrics Metrics) VoidQueryHandler[Q] {
	return voidCommandDecorator[Q]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// ApplyListQueryDecorators is ApplyQueryDecorators for a query that takes no argument.
func ApplyListQueryDecorators[R any](h ListQueryHandler[R], log *logrus.Entry, metrics Metrics) ListQueryHandler[R] {
	return listQueryDecorator[R]{base: h, calls: newCalls(h, "query", log, metrics)}
}

// calls is what every wrapper shares: the handler's logger and its recorder.
type calls struct {
	log      *logrus.Entry
	recorder Recorder
}

func newCalls(handler any, kind string, log *logrus.Entry, metrics Metrics) calls {
	if log == nil || metrics == nil {
		panic("decorator: nil log or metrics")
	}
	name := HandlerName(handler)
	return calls{log: log.WithFields(logrus.Fields{"handler": name, "kind": kind}), recorder: metrics.Handler(kind, name)}
}

// HandlerName is the name a handler's calls are logged and counted under: its type's name without "Handler",
// e.g. ScheduleFromJourney for command.ScheduleFromJourneyHandler.
func HandlerName(handler any) string {
	t := reflect.TypeOf(handler)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSuffix(t.Name(), "Handler")
}

func (c calls) done(ctx context.Context, start time.Time, err error) {
	d := time.Since(start)
	c.recorder.Done(d, err)
	// Ports log what a failure means to their caller; here a call is traced only for debugging.
	if c.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		entry := c.log.WithContext(ctx).WithField("duration_ms", float64(d.Microseconds())/1000)
		if err != nil {
			entry = entry.WithError(err)
		}
		entry.Debug("handled")
	}
}

type commandDecorator[C, R any] struct {
	base  CommandHandler[C, R]
	calls calls
}

func (d commandDecorator[C, R]) Handle(ctx context.Context, cmd C) (R, error) {
	start := time.Now()
	r, err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return r, err
}

type voidCommandDecorator[C any] struct {
	base  VoidCommandHandler[C]
	calls calls
}

func (d voidCommandDecorator[C]) Handle(ctx context.Context, cmd C) error {
	start := time.Now()
	err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return err
}

type pairCommandDecorator[C, R1, R2 any] struct {
	base  PairCommandHandler[C, R1, R2]
	calls calls
}

func (d pairCommandDecorator[C, R1, R2]) Handle(ctx context.Context, cmd C) (R1, R2, error) {
	start := time.Now()
	r1, r2, err := d.base.Handle(ctx, cmd)
	d.calls.done(ctx, start, err)
	return r1, r2, err
}

type queryDecorator[Q, R any] struct {
	base  QueryHandler[Q, R]
	calls calls
}

func (d queryDecorator[Q, R]) Handle(ctx context.Context, q Q) (R, error) {
	start := time.Now()
	r, err := d.base.Handle(ctx, q)
	d.calls.done(ctx, start, err)
	return r, err
}

type listQueryDecorator[R any] struct {
	base  ListQueryHandler[R]
	calls calls
}

func (d listQueryDecorator[R]) Handle(ctx context.Context) (R, error) {
	start := time.Now()
	r, err := d.base.Handle(ctx)
	d.calls.done(ctx, start, err)
	return r, err
}
