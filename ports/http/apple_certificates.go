package httpport

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/ports/http/httperr"
)

// putAppleCertificateRequest is a Pass Type ID certificate: a .p12 (base64) and its password, or the certificate
// and its private key in PEM; with Apple's WWDR intermediate in PEM either way. Password and privateKey are
// secrets: nothing here echoes them.
type putAppleCertificateRequest struct {
	P12         string `json:"p12"`
	Password    string `json:"password"`
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"privateKey"`
	WWDR        string `json:"wwdr"`
}

// putAppleCertificate stores a tenant's certificate of the Pass Type ID the path names, which must be the
// certificate's subject UID.
func (s server) putAppleCertificate(w http.ResponseWriter, r *http.Request) {
	var req putAppleCertificateRequest
	if err := decodeJSON(r, &req); err != nil {
		var own *httperr.Error
		if errors.As(err, &own) {
			// The decoder's message may quote a character of the body, which holds a key.
			err = httperr.BadRequest(`malformed JSON: the body must be {"p12","password","wwdr"} or {"certificate","privateKey","wwdr"}`)
		}
		s.respondError(w, r, err)
		return
	}
	files := command.AppleCertificateFiles{
		P12Password: req.Password, CertificatePEM: []byte(req.Certificate), PrivateKeyPEM: []byte(req.PrivateKey),
		WWDR: []byte(req.WWDR),
	}
	if req.P12 != "" {
		p12, err := base64.StdEncoding.DecodeString(req.P12)
		if err != nil {
			s.respondError(w, r, httperr.BadRequest("p12 must be the .p12 file in base64"))
			return
		}
		files.P12 = p12
	}
	vars := mux.Vars(r)
	info, err := s.app.Commands.AddAppleCertificate.Handle(r.Context(), command.AddAppleCertificate{
		TenantID: vars["tenantId"], PassTypeID: vars["passTypeIdentifier"], Files: files, Actor: s.requestActor(r),
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if info.Warning != "" {
		requestLog(r, s.log).WithField("pass_type_identifier", info.PassTypeID).Warn(info.Warning)
	}
	writeJSON(w, http.StatusOK, info)
}

type appleCertificatesResponse struct {
	Certificates []applepass.CertificateInfo `json:"certificates"`
}

// listAppleCertificates shows a tenant's certificates: Pass Type ID, team, subject, expiry. Never a key.
func (s server) listAppleCertificates(w http.ResponseWriter, r *http.Request) {
	cs, err := s.app.Queries.AppleCertificates.Handle(r.Context(), query.AppleCertificates{TenantID: mux.Vars(r)["tenantId"]})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	if cs == nil {
		cs = []applepass.CertificateInfo{}
	}
	writeJSON(w, http.StatusOK, appleCertificatesResponse{Certificates: cs})
}

// appleSettingsRoutes are the admin routes of a tenant's Apple certificates and templates. They are registered
// before the /api/admin subrouter, because a template's zip has a body limit of its own (10 MiB).
func (s server) appleSettingsRoutes(r *mux.Router) {
	admin := func(limit int64, h http.HandlerFunc) http.Handler { return s.requireAdmin(s.limitBody(limit)(h)) }
	const tenant = "/api/admin/tenants/{tenantId}"
	r.Handle(tenant+"/apple/certificates", admin(maxAdminBody, s.listAppleCertificates)).Methods(http.MethodGet)
	r.Handle(tenant+"/apple/certificates/{passTypeIdentifier}", admin(maxAdminBody, s.putAppleCertificate)).Methods(http.MethodPut)
	r.Handle(tenant+"/templates/{passType}", admin(maxTemplateBody, s.putAppleTemplate)).Methods(http.MethodPut)
}
