package httpport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/tenant"
)

// The activities as the marketer sees them on Journey Builder's canvas.
const (
	activityName        = "Update wallet pass"
	activityDescription = "Updates the contact's Apple Wallet and Google Wallet passes: changes their fields and can show a message on the lock screen."
	splitName           = "Wallet pass?"
	splitDescription    = "Splits contacts by whether their pass is in a wallet, and hands later activities its install links."
	// The configuration page's size in Journey Builder's modal, in pixels.
	configModalHeight = 640
	configModalWidth  = 860
)

// activityKind is what sets one of passpush's Journey Builder activities apart in its config.json: the push update
// (REST) and the "Wallet pass?" split (RESTDECISION) share everything else, the tenant's timeout, retry and
// concurrency settings among it.
type activityKind struct {
	typ         string
	key         func(tenant.Activity) string
	name        string
	description string
	category    string
	// inArguments is a freshly dropped activity's; inSchema and outArguments are the keys execute reads and
	// answers, as Journey Builder's schema (outArguments' data types).
	inArguments  []map[string]any
	inSchema     []string
	outArguments []argumentOut
	outcomes     []activityOutcome
}

type argumentOut struct {
	key, dataType string
	zero          any
}

// pushUpdateActivity is the "Update wallet pass" activity, whose execute schedules pass updates.
var pushUpdateActivity = activityKind{
	typ: "REST", key: func(a tenant.Activity) string { return a.Key },
	name: activityName, description: activityDescription, category: "message",
	// A freshly dropped activity finds the contact's passes by the email Journey Builder knows.
	inArguments: []map[string]any{{"email": "{{InteractionDefaults.Email}}"}},
	// The keys the configuration page writes (see ui/activity.js) and execute reads (see scheduleCall in sfmc.go).
	// Each field update is an inArgument of its own, named after the field, so no schema can list them all.
	inSchema: []string{"email", "customId", "passId", "passType", "additionalData", "message"},
	// The keys of execute's answer, scheduledResponse.
	outArguments: []argumentOut{{"status", "Text", ""}, {"passes", "Number", 0}},
}

// passCheckActivity is the "Wallet pass?" split: execute answers a branch, and the pass's install links for the
// activities after it ({{Interaction.<key>.appleLink}}).
var passCheckActivity = activityKind{
	typ: "RESTDECISION", key: func(a tenant.Activity) string { return a.SplitKey },
	name: splitName, description: splitDescription, category: "flow",
	inArguments: []map[string]any{{"email": "{{InteractionDefaults.Email}}"}},
	// The identifiers pushupdate's execute reads; field updates mean nothing here.
	inSchema: []string{"email", "customId", "passId", "passType"},
	// The keys of passCheckResponse, all strings so that an email can bind them as they are.
	outArguments: []argumentOut{
		{"passId", "Text", ""}, {"appleInstalled", "Text", ""}, {"googleInstalled", "Text", ""},
		{"appleLink", "Text", ""}, {"googleLink", "Text", ""},
	},
	outcomes: []activityOutcome{
		outcome(command.BranchInstalled, "Pass in a wallet"),
		outcome(command.BranchNotInstalled, "Pass not in a wallet"),
		outcome(command.BranchNoPass, "No pass"),
	},
}

// activityOutcome is a branch of a RESTDECISION activity: execute's branchResult names the one a contact takes.
type activityOutcome struct {
	Key       string `json:"key"`
	Arguments struct {
		BranchResult string `json:"branchResult"`
	} `json:"arguments"`
	MetaData struct {
		Label string `json:"label"`
	} `json:"metaData"`
}

func outcome(branch, label string) activityOutcome {
	o := activityOutcome{Key: branch}
	o.Arguments.BranchResult = branch
	o.MetaData.Label = label
	return o
}

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
	Outcomes               []activityOutcome                `json:"outcomes,omitempty"`
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

// newActivityConfig describes the tenant's activity of kind k, whose routes live under base (an absolute URL).
func newActivityConfig(t tenant.Tenant, k activityKind, base string) activityConfig {
	a := t.Activity
	outArguments := make([]map[string]any, 0, len(k.outArguments))
	for _, o := range k.outArguments {
		outArguments = append(outArguments, map[string]any{o.key: o.zero})
	}
	c := activityConfig{
		WorkflowAPIVersion: "1.1",
		Type:               k.typ,
		Key:                k.key(a),
		Lang:               map[string]activityLang{"en-US": {Name: k.name, Description: k.description}},
		MetaData:           activityMetaData{Icon: base + "/icon.svg", Category: k.category, IsConfigured: false},
		Arguments: activityArguments{Execute: activityExecute{
			InArguments:        k.inArguments,
			OutArguments:       outArguments,
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
		Outcomes: k.outcomes,
	}
	for _, stage := range activity.Stages {
		c.ConfigurationArguments[string(stage)] = activityEndpoint{URL: base + "/" + string(stage), UseJWT: true}
	}
	for _, key := range k.inSchema {
		c.Schema.Arguments.Execute.InArguments = append(c.Schema.Arguments.Execute.InArguments,
			map[string]argumentSchema{key: {DataType: "Text", IsNullable: true, Direction: "in"}})
	}
	for _, o := range k.outArguments {
		c.Schema.Arguments.Execute.OutArguments = append(c.Schema.Arguments.Execute.OutArguments,
			map[string]argumentSchema{o.key: {DataType: o.dataType, IsNullable: false, Direction: "out", Access: "visible"}})
	}
	return c
}

// activityConfigJSON serves the config.json of the tenant's activity of kind k, whose routes are under basePath.
// It holds no secret, so any origin may read it: Journey Builder fetches it from its own origin, which differs per
// Marketing Cloud stack.
func (s server) activityConfigJSON(k activityKind, basePath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveActivityConfig(w, r, k, basePath) }
}

func (s server) serveActivityConfig(w http.ResponseWriter, r *http.Request, k activityKind, basePath string) {
	allowAnyOrigin(w)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := json.MarshalIndent(newActivityConfig(tenantFrom(r), k, s.activityBaseURL(r, basePath)), "", "  ")
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

// activityBaseURL is the absolute URL of the tenant's activity routes, {public URL}/api/{tenantId}{basePath}
// (SFMCBasePath or PassCheckBasePath).
//
// Without PASSPUSH_PUBLIC_URL it is derived from the request (see publicURL): the forwarded headers of a proxy in
// PASSPUSH_TRUSTED_PROXIES, else the Host header and whether the connection is TLS. A proxy that doesn't set
// those headers should be paired with PASSPUSH_PUBLIC_URL, because Journey Builder must be able to reach every
// URL in config.json.
func (s server) activityBaseURL(r *http.Request, basePath string) string {
	return s.publicURL(r) + "/api/" + mux.Vars(r)["tenantId"] + basePath
}
