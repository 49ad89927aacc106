package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/ports/http/httperr"
)

// putGoogleSettingsRequest is a tenant's Google settings. serviceAccount is Google's key file as it comes (its
// JSON object, or that JSON as a string): a secret nothing here echoes.
type putGoogleSettingsRequest struct {
	IssuerID       string          `json:"issuerId"`
	ServiceAccount json.RawMessage `json:"serviceAccount"`
	Rate           float64         `json:"rate"`
}

// putGoogleSettings sets a tenant's Google settings and answers them without the key.
func (s server) putGoogleSettings(w http.ResponseWriter, r *http.Request) {
	var req putGoogleSettingsRequest
	if err := decodeJSON(r, &req); err != nil {
		var own *httperr.Error
		if errors.As(err, &own) {
			// The decoder's message may quote a character of the body, which holds a key.
			err = httperr.BadRequest(`malformed JSON: the body must be {"issuerId":"…","serviceAccount":{…the key file…},"rate":20}`)
		}
		s.respondError(w, r, err)
		return
	}
	keyFile := []byte(bytes.TrimSpace(req.ServiceAccount))
	if len(keyFile) > 0 && keyFile[0] == '"' {
		var text string
		if json.Unmarshal(keyFile, &text) != nil {
			s.respondError(w, r, httperr.BadRequest("serviceAccount must be the key file's JSON object"))
			return
		}
		keyFile = []byte(text)
	}
	if bytes.Equal(keyFile, []byte("null")) {
		keyFile = nil
	}
	info, err := s.app.Commands.PutGoogleSettings.Handle(r.Context(), command.PutGoogleSettings{
		TenantID: mux.Vars(r)["tenantId"], IssuerID: req.IssuerID, ServiceAccount: keyFile, Rate: req.Rate,
		Actor: s.requestActor(r),
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// getGoogleSettings answers a tenant's Google settings without the key; 404 not_set_up when it has none.
func (s server) getGoogleSettings(w http.ResponseWriter, r *http.Request) {
	info, err := s.app.Queries.GoogleSettings.Handle(r.Context(), query.GoogleSettings{TenantID: mux.Vars(r)["tenantId"]})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

type putGoogleClassRequest struct {
	ObjectType string          `json:"objectType"`
	ClassID    string          `json:"classId"`
	Template   json.RawMessage `json:"template"`
}

// putGoogleClass sets a tenant's class of the pass type the path names.
func (s server) putGoogleClass(w http.ResponseWriter, r *http.Request) {
	var req putGoogleClassRequest
	if err := decodeJSON(r, &req); err != nil {
		s.respondError(w, r, err)
		return
	}
	info, err := s.app.Commands.PutGoogleClass.Handle(r.Context(), command.PutGoogleClass{
		TenantID: mux.Vars(r)["tenantId"], PassType: mux.Vars(r)["passType"],
		ObjectType: req.ObjectType, ClassID: req.ClassID, Template: req.Template,
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// googleSettingsRoutes are the admin routes of a tenant's Google settings and classes.
func (s server) googleSettingsRoutes(r *mux.Router) {
	admin := func(h http.HandlerFunc) http.Handler { return s.requireAdmin(s.limitBody(maxAdminBody)(h)) }
	const tenant = "/api/admin/tenants/{tenantId}/google"
	r.Handle(tenant, admin(s.getGoogleSettings)).Methods(http.MethodGet)
	r.Handle(tenant, admin(s.putGoogleSettings)).Methods(http.MethodPut)
	r.Handle(tenant+"/classes/{passType}", admin(s.putGoogleClass)).Methods(http.MethodPut)
}

// googleSaveLink is the pass's "Add to Google Wallet" link, or "" when Google Wallet is not set up for it.
func (s server) googleSaveLink(r *http.Request, tenantID, passID string) (string, error) {
	return s.app.Queries.GoogleSaveLink.Handle(r.Context(), query.GoogleSaveLink{TenantID: tenantID, PassID: passID})
}
