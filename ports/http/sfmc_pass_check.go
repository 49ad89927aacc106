package httpport

import (
	"net/http"
	"strconv"

	"github.com/passpush/passpush/app/command"
)

// PassCheckBasePath is the base of the "Wallet pass?" split's routes, under /api/{tenantId}. They follow the
// push update activity's (SFMCBasePath) rules: the same tenant, JWT and lifecycle handling.
const PassCheckBasePath = "/webhooks/listeners/sfmc/actions/passcheck"

// passCheckResponse is the split's execute answer: Journey Builder takes branchResult's branch, and the other
// keys are the outArguments later activities bind ({{Interaction.<key>.appleLink}}). Journey Builder's bindings
// are strings, so the booleans are "true" and "false".
type passCheckResponse struct {
	BranchResult    string `json:"branchResult"`
	PassID          string `json:"passId"`
	AppleInstalled  string `json:"appleInstalled"`
	GoogleInstalled string `json:"googleInstalled"`
	AppleLink       string `json:"appleLink"`
	GoogleLink      string `json:"googleLink"`
}

// passCheck is the split's execute, called by Journey Builder once per contact: 200 with the branch, no_pass
// when no pass matches. Bad JWT 401, unknown tenant 404, bad identifiers 400, as the push update's execute.
func (s server) passCheck(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r)
	claims, ok := s.executeClaims(w, r)
	if !ok {
		return
	}
	match, err := passMatchOf(mergeArguments(claims))
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if err := match.Validate(); err != nil {
		s.respondError(w, r, badIdentifiers(err))
		return
	}
	check, err := s.app.Commands.CheckPass.Handle(r.Context(), command.CheckPass{
		TenantID: t.ID, Match: match, JourneyID: claims.JourneyID, ActivityID: claims.ActivityID,
		DefinitionInstanceID: claims.DefinitionInstanceID, ActivityInstanceID: claims.ActivityInstanceID,
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	resp := passCheckResponse{BranchResult: check.Branch, PassID: check.PassID, GoogleLink: check.GoogleLink}
	if check.PassID != "" {
		resp.AppleInstalled, resp.GoogleInstalled = strconv.FormatBool(check.AppleInstalled), strconv.FormatBool(check.GoogleInstalled)
	}
	if check.ApplePath != "" {
		resp.AppleLink = s.publicURL(r) + check.ApplePath
	}
	writeJSON(w, http.StatusOK, resp)
}
