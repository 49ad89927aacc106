package httpport

import (
	"io"
	"mime"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/ports/http/httperr"
)

// maxTemplateBody is the largest template zip the admin API takes.
const maxTemplateBody = 10 << 20

// putAppleTemplate stores a new version of a tenant's Apple template of a pass type, from a zip body.
func (s server) putAppleTemplate(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/zip" {
		s.respondError(w, r, &httperr.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "the body must be the template's zip, with Content-Type: application/zip"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	vars := mux.Vars(r)
	res, err := s.app.Commands.PutAppleTemplate.Handle(r.Context(), command.PutAppleTemplate{
		TenantID: vars["tenantId"], PassType: vars["passType"], Zip: body,
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
