package delivery

import "time"

// SetScanned makes the queue call f after each claimed row it reads, so a test can end a claim's context mid-scan.
func SetScanned(q *Queue, f func()) { q.scanned = f }

// SetClock makes the queue read the time from now.
func SetClock(q *Queue, now func() time.Time) { q.now = now }
