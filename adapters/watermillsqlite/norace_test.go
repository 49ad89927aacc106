//go:build !race

package watermillsqlite_test

// raceDetector is true under -race (see race_test.go).
const raceDetector = false
