package httpport

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/ports/http/httperr"
)

// AppleWebServicePath is where the PassKit web service lives under /api/{tenantId}: a pass's webServiceURL is
// PASSPUSH_PUBLIC_URL + /api/{tenantId}/apple, and Wallet adds /v1/….
const AppleWebServicePath = "/apple/v1"

// Body limits of the web service: a push token, and a device's log lines.
const (
	maxAppleBody      = 64 << 10
	maxAppleLogLines  = 100
	maxAppleLogLength = 2048
)

// appleWebServiceRoutes adds the PassKit web service. Wallet authenticates with the pass's authenticationToken
// (Authorization: ApplePass <token>), never with the admin token.
func (s server) appleWebServiceRoutes(r *mux.Router) {
	apple := r.PathPrefix("/api/{tenantId}" + AppleWebServicePath).Subrouter()
	apple.Use(s.limitBody(maxAppleBody))
	registration := "/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}"
	apple.HandleFunc(registration, s.registerAppleDevice).Methods(http.MethodPost)
	apple.HandleFunc(registration, s.unregisterAppleDevice).Methods(http.MethodDelete)
	apple.HandleFunc("/passes/{passTypeIdentifier}/{serialNumber}", s.getApplePass).Methods(http.MethodGet, http.MethodHead)

	public := apple.NewRoute().Subrouter()
	public.Use(s.requireTenant)
	public.HandleFunc("/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}", s.updatedApplePasses).Methods(http.MethodGet)
	public.HandleFunc("/log", s.appleLog).Methods(http.MethodPost)
}

// parseApplePassAuthorization reads "ApplePass <token>". The token is printable ASCII without spaces.
func parseApplePassAuthorization(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "ApplePass") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > 512 {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] > '~' {
			return "", false
		}
	}
	return token, true
}

// parsePassesUpdatedSince reads the serials call's passesUpdatedSince: a tag this service handed out, or
// nothing. A tag it cannot read (another server's, a garbled one) asks for every pass, which is always safe.
func parsePassesUpdatedSince(r *http.Request) (query.UpdateTag, bool) {
	return query.ParseUpdateTag(r.URL.Query().Get("passesUpdatedSince"))
}

// appleHolder is the tenant, pass and token of an authenticated call. Any flaw is the one 401: a caller learns
// nothing about which tenants and serials exist.
func (s server) appleHolder(r *http.Request) (query.ApplePassHolder, error) {
	vars := mux.Vars(r)
	q := query.ApplePassHolder{TenantID: vars["tenantId"], PassID: vars["serialNumber"], PassTypeID: vars["passTypeIdentifier"]}
	token, ok := parseApplePassAuthorization(r.Header.Get("Authorization"))
	if !ok || tenant.ValidateID(q.TenantID) != nil {
		return q, query.ErrNotPassHolder
	}
	q.Token = token
	if _, err := s.app.Queries.ActiveTenant.Handle(r.Context(), q.TenantID); err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return q, query.ErrNotPassHolder
		}
		return q, err
	}
	return q, nil
}

// respondAppleError answers query.ErrNotPassHolder with the one 401 of the web service, and every other error
// as the other routes do.
func (s server) respondAppleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, query.ErrNotPassHolder) {
		err = httperr.Unauthorized(query.ErrNotPassHolder.Error())
	}
	s.respondError(w, r, err)
}

type appleRegistrationBody struct {
	PushToken string `json:"pushToken"`
}

// registerAppleDevice answers 201 for a new registration, 200 for one the device already had.
func (s server) registerAppleDevice(w http.ResponseWriter, r *http.Request) {
	holder, err := s.appleHolder(r)
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	var body appleRegistrationBody
	if err := decodeJSON(r, &body); err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	created, err := s.app.Commands.RegisterAppleDevice.Handle(r.Context(), command.RegisterAppleDevice{
		TenantID: holder.TenantID, PassID: holder.PassID, PassTypeID: holder.PassTypeID,
		DeviceLibraryID: mux.Vars(r)["deviceLibraryIdentifier"], PushToken: body.PushToken, Token: holder.Token,
	})
	switch {
	case err != nil:
		s.respondAppleError(w, r, err)
	case created:
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (s server) unregisterAppleDevice(w http.ResponseWriter, r *http.Request) {
	holder, err := s.appleHolder(r)
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	err = s.app.Commands.UnregisterAppleDevice.Handle(r.Context(), command.UnregisterAppleDevice{
		TenantID: holder.TenantID, PassID: holder.PassID, PassTypeID: holder.PassTypeID,
		DeviceLibraryID: mux.Vars(r)["deviceLibraryIdentifier"], Token: holder.Token,
	})
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

type updatedApplePassesResponse struct {
	SerialNumbers []string `json:"serialNumbers"`
	LastUpdated   string   `json:"lastUpdated"`
}

// updatedApplePasses lists the serials of the device's passes changed since its tag; 204 when none.
func (s server) updatedApplePasses(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	since, hasSince := parsePassesUpdatedSince(r)
	list, err := s.app.Queries.UpdatedApplePasses.Handle(r.Context(), query.UpdatedApplePasses{
		TenantID: tenantFrom(r).ID, DeviceLibraryID: vars["deviceLibraryIdentifier"], PassTypeID: vars["passTypeIdentifier"],
		Since: since, HasSince: hasSince,
	})
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	if len(list.SerialNumbers) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, updatedApplePassesResponse{SerialNumbers: list.SerialNumbers, LastUpdated: list.LastUpdated.String()})
}

// getApplePass serves the signed pass to its holder, or 304 when If-Modified-Since is not older than it.
func (s server) getApplePass(w http.ResponseWriter, r *http.Request) {
	holder, err := s.appleHolder(r)
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	// One read of the database checks the token and reads the pass; a pass the device has is not built.
	q := query.ApplePass{TenantID: holder.TenantID, PassID: holder.PassID, Holder: &holder}
	if since, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil {
		q.IfModifiedSince = since
	}
	file, err := s.app.Queries.ApplePass.Handle(r.Context(), q)
	if errors.Is(err, query.ErrAppleNotConfigured) {
		err = query.ErrNotPassHolder
	}
	if err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	w.Header().Set("Last-Modified", file.LastModified.UTC().Format(http.TimeFormat))
	if file.NotModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.apple.pkpass")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(file.PKPass)
	}
}

type appleLogBody struct {
	Logs []string `json:"logs"`
}

// appleLog logs each line Wallet sends, at warn level with the tenant: Wallet reports here what went wrong
// with a pass on a device.
func (s server) appleLog(w http.ResponseWriter, r *http.Request) {
	var body appleLogBody
	if err := decodeJSON(r, &body); err != nil {
		s.respondAppleError(w, r, err)
		return
	}
	log := requestLog(r, s.log).WithField("tenant", tenantFrom(r).ID)
	for i, line := range body.Logs {
		if i == maxAppleLogLines {
			log.WithField("dropped", len(body.Logs)-i).Warn("Apple Wallet log: more lines than are logged")
			break
		}
		if len(line) > maxAppleLogLength {
			line = line[:maxAppleLogLength]
		}
		log.WithField("wallet_log", line).Warn("Apple Wallet log")
	}
	w.WriteHeader(http.StatusOK)
}
