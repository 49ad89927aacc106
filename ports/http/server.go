// Package httpport turns HTTP requests into application calls and their results into responses.
package httpport

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app"
	"github.com/sirupsen/logrus"
)

// Config is what the HTTP port needs beyond the application.
type Config struct {
	// AdminToken guards the management API. Empty means the management API answers 401 to everyone.
	AdminToken string
	// PublicURL is the base URL Journey Builder reaches passpush at, e.g. https://passpush.example.com.
	PublicURL string
}

// NewServer returns the HTTP handler of every passpush route.
func NewServer(application app.Application, config Config, log *logrus.Entry) (http.Handler, error) {
	if log == nil {
		return nil, errors.New("new http server: nil logger")
	}
	r := mux.NewRouter()
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }).Methods(http.MethodGet)
	_ = application
	return r, nil
}
