package activity

import (
	"encoding/json"
	"fmt"
)

// PassCheckDecidedName is the event type of a "Wallet pass?" split's decision.
const PassCheckDecidedName = "PassCheckDecided"

// PassCheckDecided is one decision of the "Wallet pass?" split: the branch a contact took, and the pass it was
// taken on, so that the audit log can count the branches of a journey.
type PassCheckDecided struct {
	Branch string `json:"branch"`
	// PassID is the reported pass (the first matching by id); empty for no_pass.
	PassID               string `json:"passId"`
	JourneyID            string `json:"journeyId,omitempty"`
	ActivityID           string `json:"activityId,omitempty"`
	DefinitionInstanceID string `json:"definitionInstanceId,omitempty"`
	ActivityInstanceID   string `json:"activityInstanceId,omitempty"`
}

// Name is the event type the event store records it under.
func (PassCheckDecided) Name() string { return PassCheckDecidedName }

// DecodePassCheckEvent turns a stored PassCheckDecided back into the decision. ok is false for another name.
func DecodePassCheckEvent(name string, payload []byte) (d PassCheckDecided, ok bool, err error) {
	if name != PassCheckDecidedName {
		return PassCheckDecided{}, false, nil
	}
	if err := json.Unmarshal(payload, &d); err != nil {
		return PassCheckDecided{}, true, fmt.Errorf("decode %s: %w", PassCheckDecidedName, err)
	}
	return d, true, nil
}
