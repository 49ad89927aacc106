package httpport

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/installlink"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/ports/http/httperr"
)

// pkpassContentType is the media type of a signed Apple pass.
const pkpassContentType = "application/vnd.apple.pkpass"

type postInstallLinkRequest struct {
	TTL string `json:"ttl"` // a Go duration, "720h"; 30 days when absent
}

type installLinkResponse struct {
	Apple     string    `json:"apple"`
	Google    string    `json:"google,omitempty"` // when the tenant has Google settings and a class for the pass's type
	ExpiresAt time.Time `json:"expiresAt"`
}

// postInstallLink makes a pass's install links. The body is optional.
func (s server) postInstallLink(w http.ResponseWriter, r *http.Request) {
	var req postInstallLinkRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			s.respondError(w, r, err)
			return
		}
	}
	var ttl time.Duration
	if req.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(req.TTL); err != nil {
			s.respondError(w, r, httperr.BadRequest(`ttl must be a duration such as "720h"`))
			return
		}
	}
	passID := mux.Vars(r)["passId"]
	if pass.ValidateID(passID) != nil {
		s.respondError(w, r, pass.ErrNotFound)
		return
	}
	link, err := s.app.Commands.MakeInstallLink.Handle(r.Context(), command.MakeInstallLink{
		TenantID: tenantFrom(r).ID, PassID: passID, TTL: ttl,
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	google, err := s.googleSaveLink(r, tenantFrom(r).ID, passID)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, installLinkResponse{Apple: s.publicURL(r) + link.ApplePath, Google: google, ExpiresAt: link.ExpiresAt})
}

// getPassPKPass answers the pass itself, to the admin.
func (s server) getPassPKPass(w http.ResponseWriter, r *http.Request) {
	s.servePKPass(w, r, mux.Vars(r)["passId"])
}

// getLinkedPassPKPass answers the pass to anyone holding a valid install link; a bad or expired one is 403.
func (s server) getLinkedPassPKPass(w http.ResponseWriter, r *http.Request) {
	tenantID, passID := tenantFrom(r).ID, mux.Vars(r)["passId"]
	params := r.URL.Query()
	expires, err := strconv.ParseInt(params.Get("expires"), 10, 64)
	if err != nil {
		s.respondError(w, r, installlink.ErrForbidden)
		return
	}
	if err := s.app.Queries.CheckInstallLink.Handle(r.Context(), query.CheckInstallLink{
		TenantID: tenantID, PassID: passID, Expires: expires, Sig: params.Get("sig"),
	}); err != nil {
		s.respondError(w, r, err)
		return
	}
	s.servePKPass(w, r, passID)
}

// servePKPass builds the pass from the passes read model and its latest template, and answers it.
func (s server) servePKPass(w http.ResponseWriter, r *http.Request, passID string) {
	if pass.ValidateID(passID) != nil {
		s.respondError(w, r, pass.ErrNotFound)
		return
	}
	f, err := s.app.Queries.ApplePass.Handle(r.Context(), query.ApplePass{TenantID: tenantFrom(r).ID, PassID: passID})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", pkpassContentType)
	h.Set("Content-Disposition", `attachment; filename="`+passID+`.pkpass"`)
	h.Set("Last-Modified", f.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(f.PKPass)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.PKPass)
	}
}

// installLinkRoutes are a pass's install links and its .pkpass: made and downloaded with the admin token or the
// tenant's API key, and downloaded by anyone holding a link, which needs neither. They are routes of r itself, not of the passes subrouter:
// gorilla/mux forgets a subrouter's "method not allowed" when a later route of the same subrouter shares its
// prefix, which would turn the passes routes' 405 into 404.
func (s server) installLinkRoutes(r *mux.Router, _ *mux.Router) {
	admin := func(h http.HandlerFunc) http.Handler {
		return s.requireTenantCredential(s.requireTenant(s.limitBody(maxAdminBody)(h)))
	}
	r.Handle("/api/{tenantId}/passes/{passId}/links", admin(s.postInstallLink)).Methods(http.MethodPost)
	r.Handle("/api/{tenantId}/passes/{passId}/pass.pkpass", admin(s.getPassPKPass)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(`/api/{tenantId}/apple/passes/{passId:[^/]+}.pkpass`, s.requireTenant(http.HandlerFunc(s.getLinkedPassPKPass))).
		Methods(http.MethodGet, http.MethodHead)
}
