package cli

import (
	"runtime/debug"
	"runtime/metrics"
)

// The garbage collector's defaults for serve. Go's own GOGC=100 collects whenever the heap doubles; serve's live
// heap is small, so it would collect several times a second, with CPU that execute calls then wait for (README,
// Performance). The memory limit keeps the larger heap well inside the 150 MiB the service is meant to stay
// under.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 100 << 20
)

// setServeGCDefaults applies serve's collector settings unless the operator set GOGC or GOMEMLIMIT, which the
// runtime has then applied already and which win. The returned func puts back the settings it replaced, so a
// process that runs serve among other things (the tests) gets its own back.
func setServeGCDefaults(lookupEnv func(string) (string, bool)) (restore func()) {
	var undo []func()
	if _, ok := lookupEnv("GOGC"); !ok {
		previous := debug.SetGCPercent(serveGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(previous) })
	}
	if _, ok := lookupEnv("GOMEMLIMIT"); !ok {
		previous := debug.SetMemoryLimit(serveMemoryLimit)
		undo = append(undo, func() { debug.SetMemoryLimit(previous) })
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
}

// gcSettings reads the collector's settings as the runtime reports them, for the log.
func gcSettings() (percent, limit uint64) {
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(samples)
	return samples[0].Value.Uint64(), samples[1].Value.Uint64()
}
