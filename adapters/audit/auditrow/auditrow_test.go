package auditrow

import "testing"

func TestEventKey_keysAUUIDByItselfAndAnyOtherIdByItsMD5(t *testing.T) {
	for _, c := range []struct{ id, key, text string }{
		{"01a23d56-4c4f-742c-9dea-2fe69bef6a7f", "01a23d56-4c4f-742c-9dea-2fe69bef6a7f", ""},
		// md5('ev-1')::uuid on PostgreSQL.
		{"ev-1", "203d46f7-ec75-7e52-6fc0-289ae8ae8f9d", "ev-1"},
		// Not canonical: keeping it as a uuid would give it back in lower case.
		{"01A23D56-4C4F-742C-9DEA-2FE69BEF6A7F", "", "01A23D56-4C4F-742C-9DEA-2FE69BEF6A7F"},
	} {
		key, text := EventKey(c.id)
		if (c.key != "" && key != c.key) || text != c.text {
			t.Errorf("EventKey(%q) = %q, %q; want %q, %q", c.id, key, text, c.key, c.text)
		}
		if got := EventID(key, text); got != c.id {
			t.Errorf("EventID(EventKey(%q)) = %q", c.id, got)
		}
	}
}

func TestStoredStream_givesBackEveryStream(t *testing.T) {
	for _, c := range []struct{ stream, pass, stored string }{
		{"pass-p-1", "p-1", ""},
		{"pushes-p-1", "p-1", "\x01"},
		{"passcheck-01a2", "p-1", "passcheck-01a2"},
		{"pass-p-2", "p-1", "pass-p-2"},
		{"tenant-acme", "", "tenant-acme"},
		{"pushes-", "", "pushes-"},
	} {
		stored := StoredStream(c.stream, c.pass)
		if stored != c.stored {
			t.Errorf("StoredStream(%q, %q) = %q, want %q", c.stream, c.pass, stored, c.stored)
		}
		if got := StreamOf(stored, c.pass); got != c.stream {
			t.Errorf("StreamOf(StoredStream(%q, %q)) = %q", c.stream, c.pass, got)
		}
	}
	// A row written between migrations 00022 and 00025 holds the bare prefix for the deliveries' stream.
	if got := StreamOf("pushes-", "p-1"); got != "pushes-p-1" {
		t.Errorf(`StreamOf("pushes-", "p-1") = %q, want pushes-p-1`, got)
	}
}

func TestStoredType_givesBackEveryType(t *testing.T) {
	for _, c := range []struct {
		name       string
		stored     string
		codedBytes int
	}{
		{"PassRegistered", "\x01", 1},
		{"PushUpdateEmitted", "\x04", 1},
		{"PassCheckDecided", "\x12", 1},
		// A type without a code is stored as its name, as rows written before the codes hold every type.
		{"SomethingNew", "SomethingNew", 12},
		{"x", "x", 1},
	} {
		stored := StoredType(c.name)
		if stored != c.stored || len(stored) != c.codedBytes {
			t.Errorf("StoredType(%q) = %q, want %q", c.name, stored, c.stored)
		}
		if got := TypeOf(stored); got != c.name {
			t.Errorf("TypeOf(StoredType(%q)) = %q", c.name, got)
		}
		if got := TypeOf(c.name); got != c.name {
			t.Errorf("TypeOf(%q), a row written before the codes, = %q", c.name, got)
		}
	}
	if len(knownTypes) > 0x1f {
		t.Fatalf("%d types with a code: codes past 0x1f are printable, and could be a type's name", len(knownTypes))
	}
}
