// Package secretboxtest gives tests a secret box with a random key.
package secretboxtest

import (
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
