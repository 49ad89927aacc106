//go:build race

package audit_test

// raceDetector is true under -race, which slows the pure-Go SQLite driver about tenfold.
const raceDetector = true
