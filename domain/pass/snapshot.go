package pass

import (
	"maps"
	"slices"
)

// Snapshot is what a pass's own events made of it, so loading a pass that journeys have updated for years does
// not replay every update. Version is the stream version it was taken at.
type Snapshot struct {
	Registered bool     `json:"registered"`
	Details    Details  `json:"details"`
	Revision   int      `json:"revision"`
	Version    int      `json:"version"`
	Entries    []string `json:"entries"`
}

// PushSnapshot is what the pass's push outcomes made of it: the revisions whose outcome is recorded. It is kept
// apart from Snapshot as the outcomes are: the delivery stage writes it, the journey updates never do.
type PushSnapshot struct {
	Pushed []int `json:"pushed"`
}

// Snapshot returns the pass's state, changes included.
func (p *Pass) Snapshot() (Snapshot, PushSnapshot) {
	s := Snapshot{Registered: p.registered, Details: p.details, Revision: p.revision, Version: p.version,
		Entries: slices.Sorted(maps.Keys(p.entries))}
	s.Details.Data = maps.Clone(s.Details.Data)
	return s, PushSnapshot{Pushed: slices.Sorted(maps.Keys(p.pushed))}
}

// Restore returns the pass that s and ps describe, with no changes; Apply replays events stored after them.
func Restore(tenantID, id string, s Snapshot, ps PushSnapshot) (*Pass, error) {
	p, err := New(tenantID, id)
	if err != nil {
		return nil, err
	}
	p.registered, p.details, p.revision, p.version = s.Registered, s.Details, s.Revision, s.Version
	p.details.Data = maps.Clone(s.Details.Data)
	for _, e := range s.Entries {
		p.entries[e] = true
	}
	for _, r := range ps.Pushed {
		p.pushed[r] = true
	}
	return p, nil
}
