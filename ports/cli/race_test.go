//go:build race

package cli_test

// raceEnabled builds the binary under test with -race when the tests run with it, so a data race in a command
// fails the test too.
const raceEnabled = true
