// Package secretboxtest gives tests a secret box with a random key.
package secretboxtest

import (
	"sync"
	"testing"

	"github.com/passpush/passpush/adapters/secretbox"
)

// New returns a box with a new random key.
func New(t testing.TB) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(Key(t))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// Key returns a new random key.
func Key(t testing.TB) secretbox.Key {
	t.Helper()
	k, err := secretbox.ParseKey(secretbox.GenerateKeyText())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// shared holds the box of each test that asked Shared for one.
var shared sync.Map // testing.TB → *secretbox.Box

// Shared returns one box per test: every call with the same test gets the same key, as the instances of passpush
// on one database must.
func Shared(t testing.TB) *secretbox.Box {
	t.Helper()
	if box, ok := shared.Load(t); ok {
		return box.(*secretbox.Box)
	}
	box, loaded := shared.LoadOrStore(t, New(t))
	if !loaded {
		t.Cleanup(func() { shared.Delete(t) })
	}
	return box.(*secretbox.Box)
}
