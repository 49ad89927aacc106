package cli

import (
	"runtime/debug"
	"testing"
)

// keepGCSettings puts the test process's collector settings back after the test.
func keepGCSettings(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func TestServeGCDefaults_applyAndRestore(t *testing.T) {
	keepGCSettings(t)
	debug.SetMemoryLimit(1 << 40)

	restore := setServeGCDefaults(func(string) (string, bool) { return "", false })
	if percent, limit := gcSettings(); percent != serveGCPercent || limit != serveMemoryLimit {
		t.Errorf("during serve GOGC=%d GOMEMLIMIT=%d, want %d and %d", percent, limit, serveGCPercent, serveMemoryLimit)
	}
	restore()
	if percent, limit := gcSettings(); percent != 100 || limit != 1<<40 {
		t.Errorf("after serve GOGC=%d GOMEMLIMIT=%d, want the 100 and %d it replaced", percent, limit, uint64(1<<40))
	}
}

func TestServeGCDefaults_leaveTheOperatorsSettings(t *testing.T) {
	keepGCSettings(t)
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 40)

	restore := setServeGCDefaults(func(key string) (string, bool) { return "set", key == "GOGC" || key == "GOMEMLIMIT" })
	defer restore()
	if percent, limit := gcSettings(); percent != 150 || limit != 1<<40 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GOGC=%d GOMEMLIMIT=%d, want the operator's 150 and %d", percent, limit, uint64(1<<40))
	}
}
