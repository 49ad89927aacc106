package service_test

import (
	"net/http"
	"strings"
	"testing"

	httpport "github.com/passpush/passpush/ports/http"
)

// TestRoutes_executesAreSearchedFirst: gorilla/mux tries routes in order, and Journey Builder calls the two
// executes once per contact, so they come before every admin and tenant route other than the activities' own.
func TestRoutes_executesAreSearchedFirst(t *testing.T) {
	h := startWithTenant(t)
	routes := routesOf(t, h.svc, func(string) bool { return true })
	executes := map[string]bool{
		"/api/{tenantId}" + httpport.SFMCBasePath + "/execute":      false,
		"/api/{tenantId}" + httpport.PassCheckBasePath + "/execute": false,
	}
	for _, r := range routes {
		if _, ok := executes[r.template]; ok && r.method == http.MethodPost {
			executes[r.template] = true
			continue
		}
		if !strings.HasPrefix(r.template, "/api/") || publicTenantRoutes.MatchString(r.template) {
			continue
		}
		for template, seen := range executes {
			if !seen {
				t.Errorf("%s %s is searched before %s", r.method, r.template, template)
			}
		}
	}
}
