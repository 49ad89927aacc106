package secretbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/secretbox/secretboxtest"
)

func TestBox_sealsAndOpens(t *testing.T) {
	t.Parallel()
	box := secretboxtest.New(t)
	sealed, err := box.Seal("acme", "webhook", []byte(`{"secret":"whsec-abc"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !secretbox.IsSealed(sealed) || strings.Contains(sealed, "whsec") || !box.SealedWithCurrent(sealed) {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := box.Seal("acme", "webhook", []byte(`{"secret":"whsec-abc"}`))
	if again == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	got, err := box.Open("acme", "webhook", sealed)
	if err != nil || string(got) != `{"secret":"whsec-abc"}` {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestBox_refusesACiphertextMovedToAnotherTenantOrPlace(t *testing.T) {
	t.Parallel()
	box := secretboxtest.New(t)
	sealed, err := box.Seal("acme", "webhook", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := box.Open("globex", "webhook", sealed); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("opened as another tenant's: %v", err)
	}
	if _, err := box.Open("acme", "google", sealed); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("opened as another credential: %v", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := box.Open("acme", "webhook", tampered); err == nil {
		t.Error("opened an altered ciphertext")
	}
}

func TestBox_opensWithThePreviousKeyDuringARotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := secretboxtest.Key(t), secretboxtest.Key(t)
	oldBox, _ := secretbox.New(oldKey)
	sealed, err := oldBox.Seal("acme", "x", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	newOnly, _ := secretbox.New(newKey)
	if _, err := newOnly.Open("acme", "x", sealed); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Errorf("a box without the old key: %v, want ErrUnknownKey", err)
	}
	both, _ := secretbox.New(newKey, oldKey)
	if got, err := both.Open("acme", "x", sealed); err != nil || string(got) != "secret" {
		t.Errorf("with the previous key: %q, %v", got, err)
	}
	if both.SealedWithCurrent(sealed) {
		t.Error("a value sealed with the previous key counts as sealed with the current one")
	}
	resealed, _ := both.Seal("acme", "x", []byte("secret"))
	if !both.SealedWithCurrent(resealed) || !newOnly.SealedWithCurrent(resealed) {
		t.Error("Seal did not use the current key")
	}
}

func TestBox_opensLegacyPlainText(t *testing.T) {
	t.Parallel()
	if got, err := secretboxtest.New(t).Open("acme", "x", `["s"]`); err != nil || string(got) != `["s"]` {
		t.Errorf("Open(plain) = %q, %v", got, err)
	}
}

func TestBox_fingerprintsAreKeyedAndStable(t *testing.T) {
	t.Parallel()
	k1, k2 := secretboxtest.Key(t), secretboxtest.Key(t)
	b1, _ := secretbox.New(k1)
	b12, _ := secretbox.New(k2, k1)
	a, b := b1.Fingerprints("sfmc-secret-0123456789"), b12.Fingerprints("sfmc-secret-0123456789")
	if len(a) != 1 || len(b) != 2 || b[0].KeyID != k2.ID() || b[1] != a[0] {
		t.Fatalf("fingerprints %v and %v", a, b)
	}
	if b[0].Sum == a[0].Sum {
		t.Error("two keys give the same fingerprint")
	}
	if other := b1.Fingerprints("sfmc-secret-0123456780"); other[0].Sum == a[0].Sum {
		t.Error("two secrets give the same fingerprint")
	}
}

func TestParseKey_refusesWithoutQuotingTheKey(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "not base64 !!", "c2hvcnQ="} {
		_, err := secretbox.ParseKey(text)
		if err == nil || (text != "" && strings.Contains(err.Error(), text)) {
			t.Errorf("ParseKey(%q) = %v", text, err)
		}
	}
}

func TestEnsureKeyFile_makesAPrivateFileOnceAndReadsItAfter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "passpush.db.key")
	k, created, err := secretbox.EnsureKeyFile(path)
	if err != nil || !created {
		t.Fatalf("EnsureKeyFile = %v, %v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", info, err)
	}
	again, created, err := secretbox.EnsureKeyFile(path)
	if err != nil || created || again.ID() != k.ID() {
		t.Errorf("second EnsureKeyFile = %v %v, %v", again.ID(), created, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left %d files beside the key", len(entries))
	}
}
