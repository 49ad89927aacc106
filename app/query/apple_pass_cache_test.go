package query

import "testing"

func TestApplePassCache_keepsTheMostRecentlyUsed(t *testing.T) {
	c := newApplePassCache(2)
	k := func(revision int) applePassKey {
		return applePassKey{tenantID: "acme", passID: "p-1", revision: revision}
	}
	c.put(k(1), []byte("1"))
	c.put(k(2), []byte("2"))
	if _, ok := c.get(k(1)); !ok { // 1 is now the most recently used
		t.Fatal("revision 1 is not kept")
	}
	c.put(k(3), []byte("3"))
	if _, ok := c.get(k(2)); ok {
		t.Error("revision 2, the least recently used, is still kept past the bound")
	}
	for _, r := range []int{1, 3} {
		if b, ok := c.get(k(r)); !ok || string(b) != string(rune('0'+r)) {
			t.Errorf("revision %d: %q, %v", r, b, ok)
		}
	}
	if c.len() != 2 {
		t.Errorf("len = %d, want 2", c.len())
	}
	if _, ok := c.get(applePassKey{tenantID: "acme", passID: "p-1", revision: 3, templateVersion: 2}); ok {
		t.Error("another template version hits the cache")
	}
}
