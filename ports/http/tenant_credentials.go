package httpport

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/passpush/passpush/ports/http/httperr"
	"github.com/sirupsen/logrus"
)

type credentialCtxKey struct{}

// requireTenantCredential guards a tenant's API, /api/{tenantId}/…: the passes and their install links, the
// audit log, and any route added later (the event feed). It lets a request through with either the admin token or
// one of that tenant's API keys, as Authorization: Bearer. A key of another tenant gets 403, and a wrong, unknown
// or revoked key 401, with a line in the security log. Keys are looked up in the database on every request, so
// a new key works at once on every instance, and a revoked one stops at once.
//
// It runs before requireTenant: a caller without a credential learns nothing about which tenants exist.
func (s server) requireTenantCredential(next http.Handler) http.Handler {
	admin := sha256.Sum256([]byte(s.config.AdminToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			s.respondError(w, r, httperr.Unauthorized("missing credentials: send the tenant's API key or the admin token as Authorization: Bearer"))
			return
		}
		got := sha256.Sum256([]byte(token))
		if s.config.AdminToken != "" && subtle.ConstantTimeCompare(got[:], admin[:]) == 1 {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credentialCtxKey{}, tenant.ActorAdminToken)))
			return
		}
		if _, isKey := tenant.LooksLikeAPIKey(token); !isKey {
			s.logRefusedCredential(r, "", "neither an API key nor the admin token")
			s.respondError(w, r, httperr.Unauthorized("wrong credentials: send the tenant's API key or the admin token"))
			return
		}
		key, err := s.app.Queries.AuthenticateAPIKey.Handle(r.Context(), token)
		switch {
		case errors.Is(err, tenant.ErrAPIKeyRefused):
			s.logRefusedCredential(r, token, "unknown or revoked API key")
			s.respondError(w, r, httperr.Unauthorized("unknown or revoked API key"))
			return
		case err != nil:
			s.respondError(w, r, err)
			return
		case key.TenantID != mux.Vars(r)["tenantId"]:
			s.logRefusedCredential(r, token, "API key of another tenant", "key_tenant", key.TenantID, "key", key.Name)
			s.respondError(w, r, &httperr.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "this API key belongs to another tenant"})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credentialCtxKey{}, tenant.APIKeyActor(key.Name))))
	})
}

// bearerToken is the request's Authorization: Bearer credential.
func bearerToken(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	return token, ok && token != ""
}

// requestActor is who makes the request, for the audit events of the changes it makes: the admin token, or the
// API key that requireTenantCredential let through.
func (s server) requestActor(r *http.Request) tenant.Actor {
	name, ok := r.Context().Value(credentialCtxKey{}).(string)
	if !ok {
		// Only requireAdmin guards the management API, and it lets nothing else through.
		name = tenant.ActorAdminToken
	}
	return tenant.Actor{Name: name, Address: s.clientAddress(r), Via: r.Method + " " + r.URL.Path}
}

// logRefusedCredential is the security log's line for a refused credential. It shows at most the credential's
// first 8 characters, and only of one shaped like an API key: anything else may be a mistyped admin token.
func (s server) logRefusedCredential(r *http.Request, key, reason string, more ...string) {
	fields := logrus.Fields{"reason": reason}
	if key != "" {
		fields["key_prefix"] = tenant.LogPrefix(key)
	}
	for i := 0; i+1 < len(more); i += 2 {
		fields[more[i]] = more[i+1]
	}
	s.securityLog(r).WithFields(fields).Info("credential refused")
}
