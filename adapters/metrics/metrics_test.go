package metrics_test

import (
	"context"
	"io"
	"testing"

	"github.com/passpush/passpush/adapters/metrics"
	"github.com/passpush/passpush/app"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

type scheduleFromJourneyHandler struct{}

func (scheduleFromJourneyHandler) Handle(context.Context, string) (int, error) { return 1, nil }

// BenchmarkDecoratedHandler is what the decorator adds to each handler call at the info log level, the execute
// path's thousands of calls a second: go test -bench DecoratedHandler -benchmem ./adapters/metrics/
func BenchmarkDecoratedHandler(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Config{InstanceID: "bench", Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	for _, c := range []struct {
		name string
		h    app.CommandHandler[string, int]
	}{
		{"bare", scheduleFromJourneyHandler{}},
		{"decorated", app.ApplyCommandDecorators[string, int](scheduleFromJourneyHandler{}, logrus.NewEntry(log), m)},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.h.Handle(ctx, "call"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
