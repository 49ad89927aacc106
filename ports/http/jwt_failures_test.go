package httpport

import (
	"testing"
	"time"
)

type handClock struct{ now time.Time }

func (c *handClock) Now() time.Time { return c.now }

func TestJWTFailures_blockAfterTheLimitInTheWindowForTheBlockTime(t *testing.T) {
	clk := &handClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newJWTFailures(clk.Now)
	// 100 failures spread over 9.9 s: none refused, the last one starts the block.
	for i := range JWTFailureLimit {
		if v := f.fail("acme"); v.retryAfter != 0 {
			t.Fatalf("failure %d refused: %+v", i+1, v)
		}
		clk.now = clk.now.Add(99 * time.Millisecond)
	}
	v := f.fail("acme")
	if v.retryAfter <= 0 || v.retryAfter > JWTFailureBlock {
		t.Fatalf("the 101st failure within the window: %+v, want refused for up to %s", v, JWTFailureBlock)
	}
	if v := f.fail("other"); v.retryAfter != 0 {
		t.Fatalf("another tenant's first failure was refused: %+v", v)
	}
	clk.now = clk.now.Add(JWTFailureBlock)
	// The block is over; the calls since are failures in the last 10 s, so the next one blocks again at once,
	// but is itself answered normally.
	if v := f.fail("acme"); v.retryAfter != 0 {
		t.Fatalf("after the block: %+v, want answered normally", v)
	}
}

func TestJWTFailures_slowFailuresNeverBlock(t *testing.T) {
	clk := &handClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newJWTFailures(clk.Now)
	// One failure every 110 ms: any 100 of them span more than 10 s.
	for i := range 3 * JWTFailureLimit {
		if v := f.fail("acme"); v.retryAfter != 0 {
			t.Fatalf("failure %d at one per 110 ms refused: %+v", i+1, v)
		}
		clk.now = clk.now.Add(110 * time.Millisecond)
	}
}

func TestJWTFailures_logsAtMostOncePerSecondWithTheCount(t *testing.T) {
	clk := &handClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newJWTFailures(clk.Now)
	var lines []int
	for range 25 {
		if v := f.fail("acme"); v.logCount > 0 {
			lines = append(lines, v.logCount)
		}
		clk.now = clk.now.Add(100 * time.Millisecond)
	}
	// At 0 s (the first), 1 s (the 10 since), 2 s (the 10 since); the last 4 wait for the next line.
	if want := []int{1, 10, 10}; len(lines) != len(want) || lines[0] != 1 || lines[1] != 10 || lines[2] != 10 {
		t.Fatalf("log lines carried %v, want %v", lines, want)
	}
}
