package httpport

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/ports/http/httperr"
)

// eventFeedRoutes serve the feed of a tenant's recorded events to downstream systems (a data warehouse, a SIEM),
// with the admin token: GET /api/{tenantId}/events?after=POSITION&limit=N&wait=30s.
func (s server) eventFeedRoutes(r *mux.Router) {
	r.Handle("/api/{tenantId}/events", s.requireAdmin(s.requireTenant(http.HandlerFunc(s.eventFeed)))).Methods(http.MethodGet)
}

// eventFeed answers the events after the position at once when there are some, and otherwise waits for one up to
// wait (a long poll). Following next sees every event once, in order (see query.Events for why).
func (s server) eventFeed(w http.ResponseWriter, r *http.Request) {
	q, err := s.eventFeedQuery(r)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	page, err := s.app.Queries.Events.Handle(r.Context(), q)
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away during the wait: nobody reads an answer.
			return
		}
		s.respondError(w, r, eventFeedError(err))
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// eventFeedQuery reads the parameters' syntax; their ranges are the query's to check (query.Events).
func (s server) eventFeedQuery(r *http.Request) (query.Events, error) {
	params := r.URL.Query()
	q := query.Events{TenantID: tenantFrom(r).ID, Limit: query.MaxEventsLimit}
	if v := params.Get("after"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return q, invalidParameter("invalid_after", "after must be 0 or the next of a previous answer")
		}
		q.After = after
	}
	if v := params.Get("limit"); v != "" {
		limit, err := strconv.Atoi(v)
		if err != nil {
			return q, invalidParameter("invalid_limit", "limit must be a number from 1 to "+strconv.Itoa(query.MaxEventsLimit))
		}
		q.Limit = limit
	}
	if v := params.Get("wait"); v != "" {
		wait, err := parseWait(v)
		if err != nil {
			return q, invalidParameter("invalid_wait", "wait must be a duration such as 30s, or a number of seconds")
		}
		q.Wait = wait
	}
	return q, nil
}

// eventFeedError names the parameter the query refused.
func eventFeedError(err error) error {
	for _, p := range []struct {
		err  error
		code string
	}{
		{query.ErrInvalidEventsAfter, "invalid_after"},
		{query.ErrInvalidEventsLimit, "invalid_limit"},
		{query.ErrInvalidEventsWait, "invalid_wait"},
		{query.ErrInvalidEventsQuery, "invalid_request"},
	} {
		if errors.Is(err, p.err) {
			return invalidParameter(p.code, err.Error())
		}
	}
	return err
}

// parseWait reads a Go duration ("30s", "1m") or a whole number of seconds ("30").
func parseWait(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n > int(time.Hour/time.Second) {
			return 0, errors.New("seconds out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func invalidParameter(code, message string) *httperr.Error {
	return &httperr.Error{Status: http.StatusBadRequest, Code: code, Message: message}
}
