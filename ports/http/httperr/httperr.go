// Package httperr is the one place where errors become HTTP status codes and stable error codes.
package httperr

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/applepass"
	"github.com/passpush/passpush/domain/googlepass"
	"github.com/passpush/passpush/domain/installlink"
	"github.com/passpush/passpush/domain/pass"
	"github.com/passpush/passpush/domain/tenant"
	"github.com/sirupsen/logrus"
)

// Error is an error the port raises itself, with its status and code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest is a 400 invalid_request.
func BadRequest(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: message}
}

// Unauthorized is a 401.
func Unauthorized(message string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: message}
}

// Overloaded is a 503 overloaded: the server refuses the request before doing any of it. It is not a failure
// to log as one: the refusal is the server protecting itself.
func Overloaded(message string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "overloaded", Message: message}
}

// NotFound is a 404 not_found.
func NotFound(message string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: message}
}

type body struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Respond writes err as {"error":{"code","message"}} with the status that fits. An error it does not know is a
// failure of the store: it answers 503 store_unavailable, which clients retry, and logs the cause, which may
// not reach the client.
func Respond(w http.ResponseWriter, r *http.Request, log logrus.FieldLogger, err error) {
	e := classify(err)
	if e.Status == http.StatusServiceUnavailable {
		if e.Code != "overloaded" {
			log.WithError(err).Error("request failed")
		}
		w.Header().Set("Retry-After", "1")
	}
	var b body
	b.Error.Code, b.Error.Message = e.Code, e.Message
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(b)
}

func classify(err error) *Error {
	var own *Error
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &own):
		return own
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "the request body is larger than the limit of this route"}
	case errors.Is(err, pass.ErrInvalid), errors.Is(err, tenant.ErrInvalid), errors.Is(err, activity.ErrInvalid):
		return BadRequest(err.Error())
	case errors.Is(err, applepass.ErrInvalidCertificate), errors.Is(err, applepass.ErrInvalidTemplate),
		errors.Is(err, installlink.ErrInvalidTTL):
		return BadRequest(err.Error())
	case errors.Is(err, googlepass.ErrInvalidSettings), errors.Is(err, googlepass.ErrInvalidClass):
		return BadRequest(err.Error())
	case errors.Is(err, push.ErrNotSetUp):
		return &Error{Status: http.StatusNotFound, Code: "not_set_up", Message: err.Error()}
	case errors.Is(err, installlink.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "the link is invalid or has expired"}
	case errors.Is(err, query.ErrAppleNotConfigured):
		return &Error{Status: http.StatusNotFound, Code: "apple_not_configured", Message: err.Error()}
	case errors.Is(err, tenant.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "unknown_tenant", Message: "unknown tenant"}
	case errors.Is(err, pass.ErrNotFound):
		return NotFound("pass not found")
	case errors.Is(err, tenant.ErrAPIKeyRefused):
		return Unauthorized("unknown or revoked API key")
	case errors.Is(err, tenant.ErrAPIKeyNotFound):
		return &Error{Status: http.StatusNotFound, Code: "unknown_api_key", Message: "the tenant has no API key of that name"}
	case errors.Is(err, tenant.ErrAPIKeyExists):
		return &Error{Status: http.StatusConflict, Code: "api_key_exists", Message: err.Error()}
	case errors.Is(err, command.ErrTenantExists):
		return &Error{Status: http.StatusConflict, Code: "tenant_exists", Message: err.Error()}
	case errors.Is(err, tenant.ErrSigningSecretInUse):
		// The fixed message: it names neither the secret nor the tenant that has it.
		return &Error{Status: http.StatusConflict, Code: "sfmc_secret_in_use", Message: tenant.ErrSigningSecretInUse.Error()}
	default:
		return &Error{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "the store is unavailable; retry later"}
	}
}
