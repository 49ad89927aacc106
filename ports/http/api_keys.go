package httpport

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/tenant"
)

// apiKeyRoutes are the management API of a tenant's API keys, on the admin subrouter. A key is named in the
// path by its name, which is unique per tenant.
func (s server) apiKeyRoutes(admin *mux.Router) {
	admin.HandleFunc("/tenants/{tenantId}/keys", s.postAPIKey).Methods(http.MethodPost)
	admin.HandleFunc("/tenants/{tenantId}/keys", s.listAPIKeys).Methods(http.MethodGet)
	admin.HandleFunc("/tenants/{tenantId}/keys/{name}", s.deleteAPIKey).Methods(http.MethodDelete)
}

type postAPIKeyRequest struct {
	Name string `json:"name"` // optional: "key-" and 8 random hex digits when absent
}

// apiKeyView is a key as a listing shows it: never the key, only the start of its random part.
type apiKeyView struct {
	Name      string    `json:"name"`
	Hint      string    `json:"hint"`
	CreatedAt time.Time `json:"createdAt"`
}

type createdAPIKeyView struct {
	apiKeyView
	// Key is the key itself, shown in this answer only.
	Key string `json:"key"`
}

func viewAPIKey(k tenant.APIKey) apiKeyView {
	return apiKeyView{Name: k.Name, Hint: k.Hint, CreatedAt: k.CreatedAt}
}

// postAPIKey makes a key and answers it, once. The body is optional.
func (s server) postAPIKey(w http.ResponseWriter, r *http.Request) {
	var req postAPIKeyRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			s.respondError(w, r, err)
			return
		}
	}
	k, err := s.app.Commands.CreateAPIKey.Handle(r.Context(), command.CreateAPIKey{
		TenantID: mux.Vars(r)["tenantId"], Name: req.Name, Actor: s.requestActor(r),
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdAPIKeyView{apiKeyView: viewAPIKey(k.APIKey), Key: k.Key})
}

func (s server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.app.Queries.ListAPIKeys.Handle(r.Context(), mux.Vars(r)["tenantId"])
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	views := make([]apiKeyView, len(keys))
	for i, k := range keys {
		views[i] = viewAPIKey(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": views})
}

// deleteAPIKey revokes a key: 204, or 404 unknown_api_key.
func (s server) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	err := s.app.Commands.RevokeAPIKey.Handle(r.Context(), command.RevokeAPIKey{
		TenantID: mux.Vars(r)["tenantId"], Name: mux.Vars(r)["name"], Actor: s.requestActor(r),
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
