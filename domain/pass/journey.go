package pass

import "fmt"

// What one Journey Builder contact entry asks of a tenant's passes: which ones (Identifiers) and what to change
// on them (UpdateFromJourney), with the rules both must keep. The rules live here only: the HTTP port reads the
// execute call's JSON into these values, ScheduleFromJourney asks their Validate before it matches a pass, and a
// pass asks again when it takes the update (ScheduleUpdate).

// ErrIdentifiers is wrapped by every refusal of Identifiers, so a port can tell "which passes" from "what change".
var ErrIdentifiers = fmt.Errorf("%w: identifiers", ErrInvalid)

// Identifiers say which passes a contact entry is about. The most specific one given wins: PassID, then CustomID,
// then Email (case-insensitive, and possibly several passes). PassType narrows any of them.
type Identifiers struct {
	PassID   string
	CustomID string
	Email    string
	PassType string
}

// Validate checks that at least one identifier is given, and that none holds text no pass can have.
func (i Identifiers) Validate() error {
	if i.PassID == "" && i.CustomID == "" && i.Email == "" {
		return fmt.Errorf("%w: one of passId, customId or email is required", ErrIdentifiers)
	}
	if hasNUL(i.PassID, i.CustomID, i.Email, i.PassType) {
		return fmt.Errorf("%w: %s", ErrIdentifiers, nulRefusal)
	}
	return nil
}

// UpdateFromJourney is what one Journey Builder contact entry asks to change on a pass.
type UpdateFromJourney struct {
	JourneyID            string            `json:"journeyId"`
	ActivityID           string            `json:"activityId"`
	ActivityInstanceID   string            `json:"activityInstanceId"`
	DefinitionInstanceID string            `json:"definitionInstanceId"`
	ContactKey           string            `json:"contactKey"`
	Fields               map[string]string `json:"fields"`
	Message              string            `json:"message"`
	// CorrelationID is the id of the call that asked for the update. Updates of many calls are stored together,
	// so the event carries it to its envelope; it is not part of the payload.
	CorrelationID string `json:"-"`
}

// EntryKey identifies a contact entry at an activity. Journey Builder resends an execute call after a timeout
// or a 5xx with the same key.
func (u UpdateFromJourney) EntryKey() string {
	return u.ActivityID + "/" + u.DefinitionInstanceID
}

// Validate checks what a journey update needs.
func (u UpdateFromJourney) Validate() error {
	if u.ActivityID == "" || u.DefinitionInstanceID == "" {
		return fmt.Errorf("%w: activityId and definitionInstanceId are required to schedule an update", ErrInvalid)
	}
	if len(u.Message) > 1000 {
		return fmt.Errorf("%w: message is longer than 1000 characters", ErrInvalid)
	}
	// Journey Builder sends GUIDs and contact keys; a longer id is garbage, and would not fit an index.
	for name, id := range map[string]string{"journeyId": u.JourneyID, "activityId": u.ActivityID,
		"activityInstanceId": u.ActivityInstanceID, "definitionInstanceId": u.DefinitionInstanceID, "keyValue": u.ContactKey} {
		if len(id) > 255 {
			return fmt.Errorf("%w: %s is longer than 255 bytes", ErrInvalid, name)
		}
	}
	if err := ValidateText(u.JourneyID, u.ActivityID, u.ActivityInstanceID, u.DefinitionInstanceID, u.ContactKey, u.Message); err != nil {
		return err
	}
	return validateFields(u.Fields)
}
