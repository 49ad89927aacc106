//go:build race

package watermillsqlite_test

// raceDetector is true under -race. There the universal suite runs its short message counts: with every
// transaction instrumented, its publishers spend most of their time waiting in SQLite's busy handler for the one
// write lock, and TestPublisherClose's 10,000 messages alone took 100 s (24 s of CPU) on a loaded machine, against
// 3 s without -race. .ci/run runs the full counts without -race.
const raceDetector = true
