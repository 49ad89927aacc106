package httpport

import (
	"net/http"
	"strings"
)

// executeShortcut sends Journey Builder's execute calls, most of passpush's traffic, straight to their activity's
// router. gorilla/mux tries every route's regular expression in the order they were registered, and the two
// activities' routes come near the end: in bench/sfmc -split's profile that search took about a tenth of the
// service's CPU. The activity's router is the one the main router would reach, wrapped in the main router's
// middlewares in the same order, so the answer is the same; every other request goes to the main router.
type executeShortcut struct {
	main http.Handler
	// activities maps an activity's base path (SFMCBasePath, PassCheckBasePath) to its wrapped router.
	activities map[string]http.Handler
}

// shortcutExecutes returns main with the execute calls of the activities' routers (base path → the router
// journeyBuilderRoutes returned) sent straight to them.
func (s server) shortcutExecutes(main http.Handler, activities map[string]http.Handler) http.Handler {
	wrapped := make(map[string]http.Handler, len(activities))
	for basePath, router := range activities {
		wrapped[basePath] = s.withRequestID(s.withRecovery(s.withSafeHeaders(s.refuseNUL(router))))
	}
	return executeShortcut{main: main, activities: wrapped}
}

func (e executeShortcut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if h := e.activities[executeBasePath(r.URL.Path)]; h != nil {
			h.ServeHTTP(w, r)
			return
		}
	}
	e.main.ServeHTTP(w, r)
}

// executeBasePath is the activity base path of an execute call's path, /api/{tenantId}{basePath}/execute, or
// "". Only a clean path qualifies: mux redirects any other to its cleaned form, and the main router still does.
func executeBasePath(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/")
	if !ok {
		return ""
	}
	tenant, rest, ok := strings.Cut(rest, "/")
	if !ok || tenant == "" || tenant == "." || tenant == ".." {
		return ""
	}
	basePath, ok := strings.CutSuffix("/"+rest, "/execute")
	if !ok {
		return ""
	}
	return basePath
}
