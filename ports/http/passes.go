package httpport

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/ports/http/httperr"
)

type putPassRequest struct {
	PassType string      `json:"passType"`
	Email    string      `json:"email"`
	CustomID string      `json:"customId"`
	Data     fieldValues `json:"data"`
}

// putPass registers a pass and answers with it as the read model shows it, so a GET right after sees the same.
func (s server) putPass(w http.ResponseWriter, r *http.Request) {
	t := tenantFrom(r)
	passID := mux.Vars(r)["passId"]
	if err := pass.ValidateID(passID); err != nil {
		s.respondError(w, r, err)
		return
	}
	var req putPassRequest
	if err := decodeJSON(r, &req); err != nil {
		s.respondError(w, r, err)
		return
	}
	res, err := s.app.Commands.RegisterPass.Handle(r.Context(), command.RegisterPass{
		TenantID: t.ID,
		PassID:   passID,
		Details:  pass.Details{PassType: req.PassType, Email: req.Email, CustomID: req.CustomID, Data: req.Data},
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.config.ReadYourWritesTimeout)
	defer cancel()
	p, err := s.app.Queries.PassByID.Handle(ctx, query.PassByID{TenantID: t.ID, PassID: passID, MinStreamVersion: res.StreamVersion})
	if errors.Is(err, context.DeadlineExceeded) {
		// The change is stored; only the read model lags. Say so rather than fail a write that succeeded.
		requestLog(r, s.log).WithField("pass_id", passID).Warn("passes read model did not catch up in time")
		writeJSON(w, status, map[string]any{"passId": passID, "stored": true, "readModel": "catching up"})
		return
	}
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, status, p)
}

func (s server) getPass(w http.ResponseWriter, r *http.Request) {
	passID := mux.Vars(r)["passId"]
	if pass.ValidateID(passID) != nil {
		s.respondError(w, r, pass.ErrNotFound)
		return
	}
	p, err := s.app.Queries.PassByID.Handle(r.Context(), query.PassByID{TenantID: tenantFrom(r).ID, PassID: passID})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

type findPassesResponse struct {
	Passes []query.Pass `json:"passes"`
	// Next is the after= value of the next page, or null on the last page.
	Next *string `json:"next"`
}

func (s server) findPasses(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	limit, err := pageLimit(params)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	found, err := s.app.Queries.FindPasses.Handle(r.Context(), query.FindPasses{
		TenantID: tenantFrom(r).ID,
		Email:    params.Get("email"),
		CustomID: params.Get("customId"),
		PassType: params.Get("passType"),
		After:    params.Get("after"),
		Limit:    limit,
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	resp := findPassesResponse{Passes: found}
	if len(found) == limit {
		resp.Next = &found[len(found)-1].PassID
	}
	writeJSON(w, http.StatusOK, resp)
}

// pageLimit reads the limit= of a listing: 1 to query.MaxPageLimit, query.DefaultPageLimit when absent.
func pageLimit(params url.Values) (int, error) {
	v := params.Get("limit")
	if v == "" {
		return query.DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > query.MaxPageLimit {
		return 0, httperr.BadRequest("limit must be a number from 1 to " + strconv.Itoa(query.MaxPageLimit))
	}
	return n, nil
}
