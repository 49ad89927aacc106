package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/ports/http/httperr"
)

// executeClaims are the claims of an execute call's JWT.
type executeClaims struct {
	jwt.RegisteredClaims
	InArguments          []map[string]json.RawMessage `json:"inArguments"`
	OutArguments         json.RawMessage              `json:"outArguments"`
	ActivityObjectID     string                       `json:"activityObjectID"`
	JourneyID            string                       `json:"journeyId"`
	ActivityID           string                       `json:"activityId"`
	DefinitionInstanceID string                       `json:"definitionInstanceId"`
	ActivityInstanceID   string                       `json:"activityInstanceId"`
	KeyValue             string                       `json:"keyValue"`
	Mode                 json.RawMessage              `json:"mode"`
}

// keys of inArguments that are not field updates.
var reservedArguments = map[string]bool{
	"passId": true, "customId": true, "email": true, "identifiers": true,
	"passType": true, "additionalData": true, "message": true,
}

// scheduleCall turns the claims of an execute call into the command that schedules it. It reads the JSON only;
// whether the identifiers and the update are acceptable is the domain's to say (ScheduleFromJourney.Validate),
// and either way the answer is a 400.
//
// inArguments is an array of single-key objects, merged in order. The identifiers may also come nested as
// {"identifiers":{…}}; a top-level one wins. additionalData is an object or a JSON string holding one; any other
// key with a string value is a field update too, and additionalData wins a conflict.
func scheduleCall(tenantID string, c *executeClaims) (command.ScheduleFromJourney, error) {
	args := map[string]json.RawMessage{}
	for _, obj := range c.InArguments {
		for k, v := range obj {
			args[k] = v
		}
	}
	var nested struct{ PassID, CustomID, Email json.RawMessage }
	if raw, ok := args["identifiers"]; ok {
		if err := json.Unmarshal(raw, &nested); err != nil {
			return command.ScheduleFromJourney{}, httperr.BadRequest("identifiers must be an object")
		}
	}
	fields := map[string]string{}
	for k, v := range args {
		var s string
		if !reservedArguments[k] && json.Unmarshal(v, &s) == nil {
			fields[k] = s
		}
	}
	if raw, ok := args["additionalData"]; ok {
		additional, err := parseAdditionalData(raw)
		if err != nil {
			return command.ScheduleFromJourney{}, err
		}
		for k, v := range additional {
			fields[k] = v
		}
	}

	call := command.ScheduleFromJourney{
		TenantID: tenantID,
		Match: command.PassMatch{
			PassID:   firstNonEmpty(stringArgument(args["passId"]), stringArgument(nested.PassID)),
			CustomID: firstNonEmpty(stringArgument(args["customId"]), stringArgument(nested.CustomID)),
			Email:    firstNonEmpty(stringArgument(args["email"]), stringArgument(nested.Email)),
			PassType: stringArgument(args["passType"]),
		},
		Update: pass.UpdateFromJourney{
			JourneyID: c.JourneyID, ActivityID: c.ActivityID, ActivityInstanceID: c.ActivityInstanceID,
			DefinitionInstanceID: c.DefinitionInstanceID, ContactKey: c.KeyValue, Fields: fields,
			Message: stringArgument(args["message"]),
		},
	}
	if err := call.Validate(); errors.Is(err, pass.ErrIdentifiers) {
		return command.ScheduleFromJourney{}, httperr.BadRequest("inArguments need one of passId, customId or email")
	} else if err != nil {
		return command.ScheduleFromJourney{}, httperr.BadRequest(err.Error())
	}
	return call, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stringArgument returns a JSON string's value, the text of a number, or "" for anything else.
func stringArgument(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// parseAdditionalData accepts an object of field values, or a JSON string holding one, because data binding in
// Journey Builder can only produce strings.
func parseAdditionalData(v json.RawMessage) (map[string]string, error) {
	raw := bytes.TrimSpace(v)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if len(bytes.TrimSpace([]byte(s))) == 0 {
			return nil, nil
		}
		raw = []byte(s)
	}
	var data fieldValues
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, httperr.BadRequest(fmt.Sprintf("additionalData must be an object of field values, or a JSON string holding one: %v", err))
	}
	return data, nil
}
