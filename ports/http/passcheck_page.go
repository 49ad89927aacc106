package httpport

import (
	"net/http"

	"github.com/gorilla/mux"
)

// PassCheckBasePath is the base of the "Wallet pass?" split activity's routes, under /api/{tenantId}.
const PassCheckBasePath = "/webhooks/listeners/sfmc/actions/passcheck"

// uiAssetRoute matches a configuration page's files, and the bare base path for its index.html.
const uiAssetRoute = "/{asset:|[A-Za-z0-9_.-]+\\.(?:html|js|css|svg|txt)}"

// passCheckPageRoutes serves the split's configuration page under its base path, with the same tenant rule as
// pushupdate's page. The split's config.json, execute and lifecycle calls are routed beside it.
func (s server) passCheckPageRoutes(r *mux.Router) {
	page := r.PathPrefix("/api/{tenantId}" + PassCheckBasePath).Subrouter()
	page.Use(s.requireTenant)
	page.HandleFunc(uiAssetRoute, s.passCheckUI).Methods(http.MethodGet, http.MethodHead)
}
