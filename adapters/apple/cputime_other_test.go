//go:build !unix

package apple_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
