package google

import (
	"sync"
	"time"
)

// builtObjects keeps the object Targets built for the Push that follows it in the same attempt, so that an
// attempt reads the pass, its class and the settings once rather than twice. An entry is used once, and only
// while fresh: a later attempt builds again from the pass's latest data.
type builtObjects struct {
	mu      sync.Mutex
	objects map[string]builtObject
}

type builtObject struct {
	object Object
	at     time.Time
}

// builtFresh is how long a built object serves its push; the push follows its Targets at once.
const builtFresh = time.Second

// maxBuiltObjects bounds the objects kept, of attempts whose push never came (a superseded update).
const maxBuiltObjects = 4096

func newBuiltObjects() *builtObjects { return &builtObjects{objects: map[string]builtObject{}} }

func builtKey(tenantID, passID string) string { return tenantID + "\x00" + passID }

func (b *builtObjects) put(tenantID, passID string, o Object, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.objects) >= maxBuiltObjects {
		for k, e := range b.objects {
			if now.Sub(e.at) > builtFresh {
				delete(b.objects, k)
			}
		}
		if len(b.objects) >= maxBuiltObjects {
			clear(b.objects)
		}
	}
	b.objects[builtKey(tenantID, passID)] = builtObject{object: o, at: now}
}

// take returns the object built for the pass within builtFresh of now, and forgets it.
func (b *builtObjects) take(tenantID, passID string, now time.Time) (Object, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := builtKey(tenantID, passID)
	e, ok := b.objects[k]
	delete(b.objects, k)
	if !ok || now.Sub(e.at) > builtFresh {
		return Object{}, false
	}
	return e.object, true
}
