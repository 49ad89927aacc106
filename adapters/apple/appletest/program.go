package appletest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// NewProgramPKI is NewPKI for a program that has no testing.TB, such as a benchmark: the PKI's files go in a new
// directory under dir, and a failure is an error.
func NewProgramPKI(dir string) (pki *PKI, err error) {
	env := &programEnv{dir: dir}
	defer env.recover(&err)
	return NewPKI(env), nil
}

// NewProgramAPNs is NewAPNs for a program that has no testing.TB, such as a benchmark: stop shuts the fake down.
func NewProgramAPNs(pki *PKI) (fake *APNs, stop func(), err error) {
	env := &programEnv{}
	defer env.recover(&err)
	return NewAPNs(env, pki), env.cleanup, nil
}

// programEnv is the little of testing.TB that the constructors use, for a program. The embedded TB is nil: a
// method the constructors do not use panics.
type programEnv struct {
	testing.TB
	dir string

	mu       sync.Mutex
	cleanups []func()
}

// programFailure is a Fatal or Skip of a constructor, which ends it as an error.
type programFailure struct{ msg string }

func (*programEnv) Helper() {}

func (e *programEnv) TempDir() string {
	dir, err := os.MkdirTemp(e.dir, "appletest-")
	if err != nil {
		panic(programFailure{err.Error()})
	}
	return dir
}

func (e *programEnv) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (*programEnv) Fatal(args ...any) { panic(programFailure{fmt.Sprint(args...)}) }

func (*programEnv) Fatalf(format string, args ...any) {
	panic(programFailure{fmt.Sprintf(format, args...)})
}

func (*programEnv) Skip(args ...any) { panic(programFailure{fmt.Sprint(args...)}) }

func (*programEnv) Skipf(format string, args ...any) {
	panic(programFailure{fmt.Sprintf(format, args...)})
}

// cleanup runs the cleanups, last first.
func (e *programEnv) cleanup() {
	e.mu.Lock()
	cleanups := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

// recover turns a constructor's failure into *err, after running the cleanups it registered.
func (e *programEnv) recover(err *error) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(programFailure)
	if !ok {
		panic(r)
	}
	e.cleanup()
	*err = errors.New(f.msg)
}
