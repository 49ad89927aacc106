package httpport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/ports/http/httperr"
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
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if in.token == "" {
		s.respondError(w, r, httperr.BadRequest("execute takes a JWT signed with the installed package's signing secret"))
		return
	}
	claims, err := verifySFMCToken(in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &executeClaims{} })
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	call, err := scheduleCall(t.ID, claims.(*executeClaims))
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

// lifecycleClaims is a lifecycle call's body, signed or not. Journey Builder sends some ids as numbers.
type lifecycleClaims struct {
	jwt.RegisteredClaims
	ActivityObjectID     flexString `json:"activityObjectID"`
	InteractionID        flexString `json:"interactionId"`
	OriginalDefinitionID flexString `json:"originalDefinitionId"`
	InteractionKey       flexString `json:"interactionKey"`
	InteractionVersion   flexString `json:"interactionVersion"`
	IsPublished          *flexBool  `json:"isPublished"`
}

// lifecycle records save, validate, publish, stop and unpublish. A JWT must verify; plain JSON is accepted and
// recorded as unsigned, because Journey Builder sends it so in practice.
func (s server) lifecycle(stage activity.Stage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.recordLifecycle(w, r, stage) }
}

func (s server) recordLifecycle(w http.ResponseWriter, r *http.Request, stage activity.Stage) {
	t := tenantFrom(r)
	in, err := readSFMCRequest(r)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	claims := &lifecycleClaims{}
	signed := in.token != ""
	if signed {
		verified, err := verifySFMCToken(in.token, t.SFMCSigningSecrets, func() jwt.Claims { return &lifecycleClaims{} })
		if err != nil {
			s.respondError(w, r, err)
			return
		}
		claims = verified.(*lifecycleClaims)
	} else if err := json.Unmarshal(in.plain, claims); err != nil {
		s.respondError(w, r, httperr.BadRequest(fmt.Sprintf("malformed %s body: %v", stage, err)))
		return
	}
	call := activity.Lifecycle{
		Stage: stage, Signed: signed,
		ActivityObjectID: string(claims.ActivityObjectID), InteractionID: string(claims.InteractionID),
		OriginalDefinitionID: string(claims.OriginalDefinitionID), InteractionKey: string(claims.InteractionKey),
		InteractionVersion: string(claims.InteractionVersion),
	}
	if claims.IsPublished != nil {
		published := bool(*claims.IsPublished)
		call.IsPublished = &published
	}
	if err := s.app.Commands.RecordActivityLifecycle.Handle(r.Context(), command.RecordActivityLifecycle{TenantID: t.ID, Call: call}); err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readSFMCRequest reads the body of a Journey Builder call. A body over the limit keeps its
// *http.MaxBytesError (413); any other read failure is a bad request.
func readSFMCRequest(r *http.Request) (sfmcBody, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			return sfmcBody{}, err
		}
		return sfmcBody{}, httperr.BadRequest("could not read the request body")
	}
	return readSFMCBody(body)
}
