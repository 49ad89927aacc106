// Package benchkit holds what the load benchmarks under bench/ share, so that a fix to how one of them samples the
// machine, reads the service's memory, signs Journey Builder's calls or reports a verdict reaches all of them.
package benchkit
