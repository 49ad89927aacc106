package httpport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

// SFMCBasePath is the base of the Journey Builder activity's routes, under /api/{tenantId}.
const SFMCBasePath = "/webhooks/listeners/sfmc/actions/pushupdate"

// maxSFMCBody bounds an execute or lifecycle call.
const maxSFMCBody = 256 << 10

type scheduledResponse struct {
	Status string `json:"status"`
	Passes int    `json:"passes"`
}

// execute is called by Journey Builder once per contact. It answers 200 only once the pass updates are stored
// on the command bus; 503 tells Journey Builder to retry, and a retry schedules nothing twice.
func (s server) execute(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r)
	claims, ok := s.executeClaims(w, r)
	if !ok {
		return
	}
	call, err := scheduleCall(t.ID, claims)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	n, err := s.app.Commands.ScheduleFromJourney.Handle(r.Context(), call)
	if errors.Is(err, command.ErrNoMatchingPasses) {
		s.respondError(w, r, &httperr.Error{Status: http.StatusNotFound, Code: "no_matching_passes", Message: "no pass of this tenant matches the contact's identifiers"})
		return
	}
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduledResponse{Status: "scheduled", Passes: n})
}

// executeClaims reads and verifies the JWT of an execute call, either activity's. On false it has answered: 400
// for a body without a JWT, 401 (or 429) for one that does not verify.
func (s server) executeClaims(w http.ResponseWriter, r *http.Request) (*executeClaims, bool) {
	t := tenantFrom(r)
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return nil, false
	}
	if in.token == "" {
		s.respondError(w, r, httperr.BadRequest("execute takes a JWT signed with the installed package's signing secret"))
		return nil, false
	}
	claims, ok := s.verifyJourneyBuilder(w, r, t.ID, in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &executeClaims{} })
	if !ok {
		return nil, false
	}
	return claims.(*executeClaims), true
}

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
	args := mergeArguments(c)
	match, err := passMatchOf(args)
	if err != nil {
		return command.ScheduleFromJourney{}, err
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
		Match:    match,
		Update: pass.UpdateFromJourney{
			JourneyID: c.JourneyID, ActivityID: c.ActivityID, ActivityInstanceID: c.ActivityInstanceID,
			DefinitionInstanceID: c.DefinitionInstanceID, ContactKey: c.KeyValue, Fields: fields,
			Message: stringArgument(args["message"]),
		},
	}
	if err := call.Validate(); err != nil {
		return command.ScheduleFromJourney{}, badIdentifiers(err)
	}
	return call, nil
}

// mergeArguments merges inArguments, an array of single-key objects, in order.
func mergeArguments(c *executeClaims) map[string]json.RawMessage {
	args := map[string]json.RawMessage{}
	for _, obj := range c.InArguments {
		for k, v := range obj {
			args[k] = v
		}
	}
	return args
}

// passMatchOf reads the identifiers of an execute call's merged inArguments, for both activities: passId,
// customId and email, at the top level or nested as {"identifiers":{…}} (a top-level one wins), and passType.
func passMatchOf(args map[string]json.RawMessage) (command.PassMatch, error) {
	var nested struct{ PassID, CustomID, Email json.RawMessage }
	if raw, ok := args["identifiers"]; ok {
		if err := json.Unmarshal(raw, &nested); err != nil {
			return command.PassMatch{}, httperr.BadRequest("identifiers must be an object")
		}
	}
	return command.PassMatch{
		PassID:   firstNonEmpty(stringArgument(args["passId"]), stringArgument(nested.PassID)),
		CustomID: firstNonEmpty(stringArgument(args["customId"]), stringArgument(nested.CustomID)),
		Email:    firstNonEmpty(stringArgument(args["email"]), stringArgument(nested.Email)),
		PassType: stringArgument(args["passType"]),
	}, nil
}

// badIdentifiers is the 400 of a call the domain refused.
func badIdentifiers(err error) error {
	if errors.Is(err, pass.ErrIdentifiers) {
		return httperr.BadRequest("inArguments need one of passId, customId or email")
	}
	return httperr.BadRequest(err.Error())
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

// lifecycleClaims is a signed lifecycle call's claims. Journey Builder sends some ids as numbers.
type lifecycleClaims struct {
	jwt.RegisteredClaims
	ActivityObjectID     flexString `json:"activityObjectID"`
	InteractionID        flexString `json:"interactionId"`
	OriginalDefinitionID flexString `json:"originalDefinitionId"`
	InteractionKey       flexString `json:"interactionKey"`
	InteractionVersion   flexString `json:"interactionVersion"`
	IsPublished          *flexBool  `json:"isPublished"`
}

// lifecycle records save, validate, publish, stop and unpublish.
func (s server) lifecycle(stage activity.Stage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.recordLifecycle(w, r, stage) }
}

// recordLifecycle records a lifecycle call whose JWT verifies, once per stage of an activity in a journey
// version. Journey Builder sometimes sends these calls as plain JSON even with useJwt, and a non-200 would block
// the journey's activation, so an unsigned call gets 200 too; but it stores nothing, since anyone (a hostile
// page through a browser, with a text/plain POST) can send one. It is logged with a hash of its body, which
// lets an operator match it to Journey Builder's without the log holding what a stranger wrote.
func (s server) recordLifecycle(w http.ResponseWriter, r *http.Request, stage activity.Stage) {
	t := tenantFrom(r)
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	log := requestLog(r, s.log).WithFields(logrus.Fields{"tenant": t.ID, "stage": string(stage)})
	if in.token == "" {
		sum := sha256.Sum256(in.plain)
		log.WithField("body_sha256", hex.EncodeToString(sum[:])).Info("unsigned lifecycle call: answered 200, nothing recorded")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	verified, ok := s.verifyJourneyBuilder(w, r, t.ID, in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &lifecycleClaims{} })
	if !ok {
		return
	}
	claims := verified.(*lifecycleClaims)
	call := activity.Lifecycle{
		Stage:            stage,
		ActivityObjectID: string(claims.ActivityObjectID), InteractionID: string(claims.InteractionID),
		OriginalDefinitionID: string(claims.OriginalDefinitionID), InteractionKey: string(claims.InteractionKey),
		InteractionVersion: string(claims.InteractionVersion),
	}
	if claims.IsPublished != nil {
		published := bool(*claims.IsPublished)
		call.IsPublished = &published
	}
	outcome, err := s.app.Commands.RecordActivityLifecycle.Handle(r.Context(), command.RecordActivityLifecycle{TenantID: t.ID, Call: call})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if outcome == command.LifecycleUnidentified {
		log.Info("signed lifecycle call without activityObjectID or interactionId: answered 200, nothing recorded")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
