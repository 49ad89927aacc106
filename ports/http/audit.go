package httpport

import (
	"net/http"
	"strconv"

	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/ports/http/httperr"
)

type auditResponse struct {
	Events []query.AuditEvent `json:"events"`
	// Next is the after= value of the next page, or null on the last page.
	Next *int64 `json:"next"`
}

func (s server) auditLog(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	q := query.AuditLog{
		TenantID: tenantFrom(r).ID, JourneyID: params.Get("journeyId"), PassID: params.Get("passId"),
		Type: params.Get("type"),
	}
	if v := params.Get("after"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil || after < 0 {
			s.respondError(w, r, httperr.BadRequest("after must be a position from a previous page"))
			return
		}
		q.After = after
	}
	limit, err := pageLimit(params)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	q.Limit = limit
	events, err := s.app.Queries.AuditLog.Handle(r.Context(), q)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	resp := auditResponse{Events: events}
	if len(events) == q.Limit {
		resp.Next = &events[len(events)-1].Position
	}
	writeJSON(w, http.StatusOK, resp)
}
