package httpport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/passpush/passpush/domain/activity"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/domain/tenant"
)

// The activity as the marketer sees it on Journey Builder's canvas.
const (
	activityName        = "Update wallet pass"
	activityDescription = "Updates the contact's Apple Wallet and Google Wallet passes: changes their fields and can show a message on the lock screen."
	// The configuration page's size in Journey Builder's modal, in pixels.
	configModalHeight = 640
	configModalWidth  = 860
)

// activityConfig is the config.json that Journey Builder fetches from the activity's endpoint URL. Its field
// names are Journey Builder's (its custom activity config.json reference).
type activityConfig struct {
	WorkflowAPIVersion     string                           `json:"workflowApiVersion"`
	Type                   string                           `json:"type"`
	Key                    string                           `json:"key"`
	Lang                   map[string]activityLang          `json:"lang"`
	MetaData               activityMetaData                 `json:"metaData"`
	Arguments              activityArguments                `json:"arguments"`
	ConfigurationArguments map[string]activityEndpoint      `json:"configurationArguments"`
	UserInterfaces         map[string]activityUserInterface `json:"userInterfaces"`
	Schema                 activitySchema                   `json:"schema"`
}

type activityLang struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type activityMetaData struct {
	Icon         string `json:"icon"`
	Category     string `json:"category"`
	IsConfigured bool   `json:"isConfigured"`
}

type activityArguments struct {
	Execute activityExecute `json:"execute"`
}

type activityExecute struct {
	InArguments        []map[string]any `json:"inArguments"`
	OutArguments       []map[string]any `json:"outArguments"`
	URL                string           `json:"url"`
	UseJWT             bool             `json:"useJwt"`
	Timeout            int              `json:"timeout"`
	RetryCount         int              `json:"retryCount"`
	RetryDelay         int              `json:"retryDelay"`
	ConcurrentRequests int              `json:"concurrentRequests"`
}

type activityEndpoint struct {
	URL    string `json:"url"`
	UseJWT bool   `json:"useJwt"`
}

type activityUserInterface struct {
	URL    string `json:"url"`
	Height int    `json:"height"`
	Width  int    `json:"width"`
}

type activitySchema struct {
	Arguments struct {
		Execute struct {
			InArguments  []map[string]argumentSchema `json:"inArguments"`
			OutArguments []map[string]argumentSchema `json:"outArguments"`
		} `json:"execute"`
	} `json:"arguments"`
}

type argumentSchema struct {
	DataType   string `json:"dataType"`
	IsNullable bool   `json:"isNullable"`
	Direction  string `json:"direction"`
	Access     string `json:"access,omitempty"`
}

// newActivityConfig describes the tenant's activity, whose routes live under base (an absolute URL).
func newActivityConfig(t tenant.Tenant, base string) activityConfig {
	a := t.Activity
	c := activityConfig{
		WorkflowAPIVersion: "1.1",
		Type:               "REST",
		Key:                a.Key,
		Lang:               map[string]activityLang{"en-US": {Name: activityName, Description: activityDescription}},
		MetaData:           activityMetaData{Icon: base + "/icon.svg", Category: "message", IsConfigured: false},
		Arguments: activityArguments{Execute: activityExecute{
			// A freshly dropped activity finds the contact's passes by the email Journey Builder knows.
			InArguments: []map[string]any{{"email": "{{InteractionDefaults.Email}}"}},
			// The keys of execute's answer, scheduledResponse.
			OutArguments:       []map[string]any{{"status": ""}, {"passes": 0}},
			URL:                base + "/execute",
			UseJWT:             true,
			Timeout:            a.TimeoutMS,
			RetryCount:         a.RetryCount,
			RetryDelay:         a.RetryDelayMS,
			ConcurrentRequests: a.ConcurrentRequests,
		}},
		ConfigurationArguments: map[string]activityEndpoint{},
		UserInterfaces: map[string]activityUserInterface{
			"configModal": {URL: "index.html", Height: configModalHeight, Width: configModalWidth},
		},
	}
	for _, stage := range activity.Stages {
		c.ConfigurationArguments[string(stage)] = activityEndpoint{URL: base + "/" + string(stage), UseJWT: true}
	}
	// The keys the configuration page writes (see ui/activity.js) and execute reads (see scheduleCall in sfmc.go).
	// Each field update is an inArgument of its own, named after the field, so no schema can list them all.
	in := func(key string) map[string]argumentSchema {
		return map[string]argumentSchema{key: {DataType: "Text", IsNullable: true, Direction: "in"}}
	}
	out := func(key, dataType string) map[string]argumentSchema {
		return map[string]argumentSchema{key: {DataType: dataType, IsNullable: false, Direction: "out", Access: "visible"}}
	}
	c.Schema.Arguments.Execute.InArguments = []map[string]argumentSchema{
		in("email"), in("customId"), in("passId"), in("passType"), in("additionalData"), in("message"),
	}
	c.Schema.Arguments.Execute.OutArguments = []map[string]argumentSchema{out("status", "Text"), out("passes", "Number")}
	return c
}

// activityConfigJSON serves config.json for the tenant. It holds no secret, so any origin may read it: Journey
// Builder fetches it from its own origin, which differs per Marketing Cloud stack.
func (s server) activityConfigJSON(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := json.MarshalIndent(newActivityConfig(tenantFrom(r), s.activityBaseURL(r)), "", "  ")
	if err != nil {
		s.respondError(w, r, err)
		return
	}
	sum := sha256.Sum256(body)
	if s.config.PublicURL == "" {
		// The URLs come from these headers: a shared cache must not hand one caller's URLs to another.
		w.Header().Set("Vary", "Forwarded, X-Forwarded-Host, X-Forwarded-Proto")
	}
	w.Header().Set("Content-Type", "application/json")
	// Tenant settings change it at any time: caches must ask again, and get a 304 while it is unchanged.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(body))
}

func allowAnyOrigin(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

// activityBaseURL is the absolute URL of the tenant's activity routes, {public URL}/api/{tenantId}{SFMCBasePath}.
//
// Without PASSPUSH_PUBLIC_URL it is derived from the request (see publicURL): the forwarded headers of a proxy in
// PASSPUSH_TRUSTED_PROXIES, else the Host header and whether the connection is TLS. A proxy that doesn't set
// those headers should be paired with PASSPUSH_PUBLIC_URL, because Journey Builder must be able to reach every
// URL in config.json.
func (s server) activityBaseURL(r *http.Request) string {
	return s.publicURL(r) + "/api/" + mux.Vars(r)["tenantId"] + SFMCBasePath
}
