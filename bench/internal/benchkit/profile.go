package benchkit

import (
	"os"
	"runtime/pprof"
)

// StartCPUProfile profiles this process into path until the returned function is called, so that a benchmark
// profiles its measured phase only, not the setting up. An empty path profiles nothing.
func StartCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
