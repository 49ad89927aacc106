// Package activity holds what Journey Builder tells passpush about the activity itself: the lifecycle calls
// it makes when a journey with our activity is saved, validated, published, stopped or unpublished.
package activity

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid activity lifecycle call")

// Stage is one of the lifecycle calls.
type Stage string

const (
	Saved       Stage = "save"
	Validated   Stage = "validate"
	Published   Stage = "publish"
	Stopped     Stage = "stop"
	Unpublished Stage = "unpublish"
)

// Stages are the lifecycle calls Journey Builder makes, in the order of a journey's life.
var Stages = []Stage{Saved, Validated, Published, Stopped, Unpublished}

// eventNames are the event types the stages record.
var eventNames = map[Stage]string{
	Saved:       "ActivitySaved",
	Validated:   "ActivityValidated",
	Published:   "ActivityPublished",
	Stopped:     "ActivityStopped",
	Unpublished: "ActivityUnpublished",
}

// Lifecycle is one lifecycle call, the event it records.
type Lifecycle struct {
	Stage                Stage  `json:"stage"`
	ActivityObjectID     string `json:"activityObjectID"`
	InteractionID        string `json:"interactionId"`
	OriginalDefinitionID string `json:"originalDefinitionId"`
	InteractionKey       string `json:"interactionKey"`
	InteractionVersion   string `json:"interactionVersion"`
	// IsPublished comes with publish only.
	IsPublished *bool `json:"isPublished,omitempty"`
	// Events stored before issue 13 also carry "signed" (false for the plain-JSON calls recorded then); it is
	// ignored when they are decoded. Only calls whose JWT verifies are recorded now, so the field went.
}

// Name is the event type.
func (l Lifecycle) Name() string { return eventNames[l.Stage] }

// DecodeEvent turns a stored lifecycle event back into its call. ok is false for a name that is not a
// lifecycle event's, which a reader passes over.
func DecodeEvent(name string, payload []byte) (l Lifecycle, ok bool, err error) {
	for _, n := range eventNames {
		if n == name {
			if err := json.Unmarshal(payload, &l); err != nil {
				return Lifecycle{}, true, fmt.Errorf("decode %s: %w", name, err)
			}
			return l, true, nil
		}
	}
	return Lifecycle{}, false, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{0,128}$`)

// Validate checks the call's format; nothing more, as publish must not fail on content.
func (l Lifecycle) Validate() error {
	if _, ok := eventNames[l.Stage]; !ok {
		return fmt.Errorf("%w: unknown stage %q", ErrInvalid, l.Stage)
	}
	for name, v := range map[string]string{"activityObjectID": l.ActivityObjectID, "interactionId": l.InteractionID, "originalDefinitionId": l.OriginalDefinitionID} {
		if !idPattern.MatchString(v) {
			return fmt.Errorf("%w: %s %q is not an id", ErrInvalid, name, v)
		}
	}
	if strings.ContainsRune(l.InteractionKey+l.InteractionVersion, 0) {
		return fmt.Errorf("%w: text must not contain a NUL character", ErrInvalid)
	}
	if len(l.InteractionKey) > 255 || len(l.InteractionVersion) > 64 {
		return fmt.Errorf("%w: interactionKey or interactionVersion is too long", ErrInvalid)
	}
	return nil
}

// Identified reports whether the call names its activity or its journey. One that names neither cannot be
// told from another, so it is not recorded.
func (l Lifecycle) Identified() bool { return l.ActivityObjectID != "" || l.InteractionID != "" }

// Key identifies the call for deduplication: one event per stage of one activity in one journey version, so
// Journey Builder's resends (and a replayed signed call) are recorded once. Neither id may hold a "/" (see
// Validate) and the stage is one of ours, so the key is unambiguous with the free-form version last.
func (l Lifecycle) Key() string {
	return l.ActivityObjectID + "/" + l.InteractionID + "/" + string(l.Stage) + "/" + l.InteractionVersion
}
