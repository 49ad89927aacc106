package cli

import (
	"runtime/debug"
	"testing"
)

func TestServeGCDefaultsApplyAndRestore(t *testing.T) {
	before, beforeLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(beforeLimit) })

	restore := setServeGCDefaults(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(-1); got != serveGCPercent {
		t.Errorf("GC percent during serve = %d, want %d", got, serveGCPercent)
	}
	debug.SetGCPercent(serveGCPercent)
	if got := debug.SetMemoryLimit(-1); got != serveMemoryLimit {
		t.Errorf("memory limit during serve = %d, want %d", got, serveMemoryLimit)
	}
	restore()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent after serve = %d, want the 100 it replaced", got)
	}
	debug.SetGCPercent(100)
}

func TestServeGCDefaultsLeaveOperatorSettings(t *testing.T) {
	before, beforeLimit := debug.SetGCPercent(150), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(beforeLimit) })
	limit := debug.SetMemoryLimit(-1)

	restore := setServeGCDefaults(func(key string) (string, bool) { return "set", key == "GOGC" || key == "GOMEMLIMIT" })
	defer restore()
	if got := debug.SetGCPercent(-1); got != 150 {
		t.Errorf("GC percent with GOGC set = %d, want the operator's 150", got)
	}
	debug.SetGCPercent(150)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit with GOMEMLIMIT set = %d, want %d", got, limit)
	}
}
