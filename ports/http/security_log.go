package httpport

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/sirupsen/logrus"
)

// securityLog is the logger of a security log line about r: security, the route's tenant and template, and the
// client's address, which every such line carries. The caller adds the reason and logs at info.
func (s server) securityLog(r *http.Request) *logrus.Entry {
	return requestLog(r, s.log).WithFields(logrus.Fields{
		"security": true, "tenant": routeTenant(r), "route": routeTemplate(r), "client": s.clientAddress(r),
	})
}

// routeTenant is the route's tenant id, if it is a valid one: the path is the caller's and may hold anything.
func routeTenant(r *http.Request) string {
	id := mux.Vars(r)["tenantId"]
	if tenant.ValidateID(id) != nil {
		return ""
	}
	return id
}

// routeTemplate is the matched route's template, e.g. /api/{tenantId}/passes/{passId}: a log line names the
// route without the caller's path, which may hold anything.
func routeTemplate(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if t, err := route.GetPathTemplate(); err == nil {
			return t
		}
	}
	return ""
}
