package httpport

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/tenant"
)

type putTenantRequest struct {
	Name               *string  `json:"name"`
	SFMCSigningSecrets []string `json:"sfmcSigningSecrets"`
	// Webhook's secret adds a signing secret (a rotation), retireSecret removes one; a client that sets url and
	// secret together, as before rotations, still gets a working webhook.
	Webhook *struct {
		URL          *string `json:"url"`
		Secret       *string `json:"secret"`
		RetireSecret *string `json:"retireSecret"`
	} `json:"webhook"`
	Disabled *bool `json:"disabled"`
	Activity *struct {
		Key                *string `json:"key"`
		SplitKey           *string `json:"splitKey"`
		TimeoutMS          *int    `json:"timeout"`
		RetryCount         *int    `json:"retryCount"`
		RetryDelayMS       *int    `json:"retryDelay"`
		ConcurrentRequests *int    `json:"concurrentRequests"`
	} `json:"activity"`
}

// tenantView is a tenant as the API shows it: never a secret, only whether one is set.
type tenantView struct {
	ID                 string           `json:"tenantId"`
	Name               string           `json:"name"`
	SFMCSigningSecrets int              `json:"sfmcSigningSecrets"`
	Webhook            webhook          `json:"webhook"`
	Activity           activitySettings `json:"activity"`
	Disabled           bool             `json:"disabled"`
	CreatedAt          time.Time        `json:"createdAt"`
	UpdatedAt          time.Time        `json:"updatedAt"`
}

type activitySettings struct {
	Key string `json:"key"`
	// SplitKey is the "Wallet pass?" split's config.json key; the other settings are shared by both activities.
	SplitKey           string `json:"splitKey"`
	TimeoutMS          int    `json:"timeout"`
	RetryCount         int    `json:"retryCount"`
	RetryDelayMS       int    `json:"retryDelay"`
	ConcurrentRequests int    `json:"concurrentRequests"`
}

// webhook shows the URL with what can be a credential in it masked, and how many secrets sign its requests.
type webhook struct {
	URL       string `json:"url"`
	SecretSet bool   `json:"secretSet"`
	Secrets   int    `json:"secrets"`
}

func viewTenant(t tenant.Tenant) tenantView {
	return tenantView{
		ID: t.ID, Name: t.Name, SFMCSigningSecrets: len(t.SFMCSigningSecrets),
		Webhook:  viewWebhook(t.Webhook),
		Activity: activitySettings(t.Activity),
		Disabled: t.Disabled, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

func viewWebhook(w tenant.Webhook) webhook {
	v := webhook{SecretSet: len(w.Secrets) > 0, Secrets: len(w.Secrets)}
	if w.URL != "" {
		v.URL = tenant.MaskURL(w.URL)
	}
	return v
}

// putTenant creates a tenant or changes the fields the body names; absent fields keep their value.
func (s server) putTenant(w http.ResponseWriter, r *http.Request) {
	var req putTenantRequest
	if err := decodeJSON(r, &req); err != nil {
		s.respondError(w, r, err)
		return
	}
	changes := tenant.Changes{Name: req.Name, SFMCSigningSecrets: req.SFMCSigningSecrets, Disabled: req.Disabled}
	if req.Webhook != nil {
		changes.WebhookURL, changes.WebhookSecret, changes.RetireWebhookSecret = req.Webhook.URL, req.Webhook.Secret, req.Webhook.RetireSecret
	}
	if a := req.Activity; a != nil {
		changes.ActivitySplitKey = a.SplitKey
		changes.ActivityKey, changes.ActivityTimeoutMS, changes.ActivityRetryCount = a.Key, a.TimeoutMS, a.RetryCount
		changes.ActivityRetryDelayMS, changes.ActivityConcurrentRequests = a.RetryDelayMS, a.ConcurrentRequests
	}
	t, created, err := s.app.Commands.SaveTenant.Handle(r.Context(), command.SaveTenant{
		TenantID: mux.Vars(r)["tenantId"], Changes: changes, Mode: command.CreateOrUpdate, Actor: s.requestActor(r),
	})
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewTenant(t))
}

func (s server) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.app.Queries.TenantByID.Handle(r.Context(), mux.Vars(r)["tenantId"])
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewTenant(t))
}

func (s server) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.app.Queries.ListTenants.Handle(r.Context())
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	views := make([]tenantView, len(ts))
	for i, t := range ts {
		views[i] = viewTenant(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": views})
}
