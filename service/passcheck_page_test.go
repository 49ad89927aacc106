package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	httpport "github.com/passpush/passpush/ports/http"
)

// passCheckBase is the split's routes for the harness's tenant.
const passCheckBase = "/api/acme" + httpport.PassCheckBasePath

// savedPassCheck is the split as Journey Builder hands it to the page: a saved configuration, and Journey
// Builder's own fields (key, outcomes, outArguments), which must come back unchanged.
func savedPassCheck(h *harness) map[string]any {
	base := h.url + passCheckBase
	return map[string]any{
		"id":   "b71c0e2a-activity",
		"key":  "RESTDECISION-1",
		"name": "Wallet pass?",
		"type": "RESTDECISION",
		"arguments": map[string]any{"execute": map[string]any{
			"inArguments": []any{
				map[string]any{"customId": "{{Contact.Attribute.Loyalty.MemberId}}"},
				map[string]any{"passType": "loyalty"},
			},
			"outArguments": []any{map[string]any{"appleLink": ""}, map[string]any{"googleLink": ""}},
			"url":          base + "/execute",
			"useJwt":       true,
		}},
		"outcomes": []any{
			map[string]any{"key": "installed", "arguments": map[string]any{"branchResult": "installed"}, "metaData": map[string]any{"label": "Pass in a wallet"}},
			map[string]any{"key": "not_installed", "arguments": map[string]any{"branchResult": "not_installed"}, "metaData": map[string]any{"label": "Pass not in a wallet"}},
			map[string]any{"key": "no_pass", "arguments": map[string]any{"branchResult": "no_pass"}, "metaData": map[string]any{"label": "No pass"}},
		},
		"metaData": map[string]any{"icon": base + "/icon.svg", "isConfigured": true},
	}
}

// passCheckState is what the split's page shows.
type passCheckState struct {
	IdentifierType string `json:"identifierType"`
	Identifier     string `json:"identifier"`
	PassType       string `json:"passType"`
	// IdentifierError is the text next to the identifier, when it is shown in error.
	IdentifierError string `json:"identifierError"`
	// Branches are the paths the page lists: the branch's key and its label.
	Branches [][2]string `json:"branches"`
	// Bindings are the outArguments as the page tells a later activity to bind them.
	Bindings []string `json:"bindings"`
	Example  string   `json:"example"`
	// Selected is the part of the example that is selected.
	Selected string `json:"selected"`
	Status   string `json:"status"`
}

const readPassCheckState = `function () {
  var d = this.ownerDocument;
  var checked = d.querySelector('input[name="identifierType"]:checked');
  var identifier = d.getElementById('identifier');
  var example = d.getElementById('example');
  var inError = identifier.closest('.slds-has-error') && identifier.getAttribute('aria-invalid') === 'true';
  return {
    identifierType: checked ? checked.value : '',
    identifier: identifier.value,
    passType: d.getElementById('pass-type').value,
    identifierError: inError ? d.getElementById('identifier-error').textContent : '',
    branches: Array.prototype.map.call(d.querySelectorAll('#branches li'), function (item) {
      return [item.getAttribute('data-branch'), item.querySelector('.branch-label').textContent];
    }),
    bindings: Array.prototype.map.call(d.querySelectorAll('#out-arguments tbody tr th code'), function (c) { return c.textContent; }),
    example: example.value,
    selected: example.value.substring(example.selectionStart, example.selectionEnd),
    status: d.getElementById('status').textContent
  };
}`

func (p *configPage) passCheckState() passCheckState {
	p.t.Helper()
	raw := p.call("body", readPassCheckState)
	var s passCheckState
	if err := json.Unmarshal(raw, &s); err != nil {
		p.t.Fatalf("read the split's page: %v: %s", err, raw)
	}
	return s
}

func (p *configPage) waitPassCheck(what string, cond func(passCheckState) bool) passCheckState {
	p.t.Helper()
	var s passCheckState
	eventually(p.t, 15*time.Second, what, func() bool { s = p.passCheckState(); return cond(s) })
	return s
}

func TestPassCheckPage_roundTripsAConfigurationThroughPostmonger(t *testing.T) {
	h := start(t, browserTestConfig())
	h.addTenant("acme")
	p := openActivityPage(t, h, passCheckBase, savedPassCheck(h))

	// initActivity restores the saved identifier, and the page shows the branches and the bindings with the
	// activity's key filled in.
	restored := p.waitPassCheck("the saved configuration", func(s passCheckState) bool { return s.Identifier != "" })
	wantBranches := [][2]string{{"installed", "Pass in a wallet"}, {"not_installed", "Pass not in a wallet"}, {"no_pass", "No pass"}}
	var wantBindings []string
	for _, name := range []string{"passId", "appleInstalled", "googleInstalled", "appleLink", "googleLink"} {
		wantBindings = append(wantBindings, "{{Interaction.RESTDECISION-1."+name+"}}")
	}
	want := passCheckState{
		IdentifierType: "customId", Identifier: "{{Contact.Attribute.Loyalty.MemberId}}", PassType: "loyalty",
		Branches: wantBranches, Bindings: wantBindings,
		Example: `<a href="{{Interaction.RESTDECISION-1.appleLink}}">Add to Apple Wallet</a>`,
	}
	if !reflect.DeepEqual(restored, want) {
		t.Fatalf("the page shows\n%+v\nwant\n%+v", restored, want)
	}
	if jbValue[bool](p, `jb.log.indexOf('requestTokens') >= 0`) {
		t.Errorf("the page asked for SFMC tokens")
	}
	if b := jbValue[map[string]any](p, `jb.buttons.next`); b["text"] != "done" || b["visible"] != true {
		t.Errorf("the page has one step: Journey Builder's button must read done: %v", b)
	}

	// The Copy button copies the example, or at least selects it for Ctrl+C.
	p.click("#copy-example")
	copied := p.waitPassCheck("the copy", func(s passCheckState) bool { return s.Status != "" })
	if copied.Selected != want.Example || (copied.Status != "Example copied" && copied.Status != "Press Ctrl+C to copy the example") {
		t.Errorf("after Copy: selected %q, status %q", copied.Selected, copied.Status)
	}

	// Without an identifier nothing is saved, and the error is next to the input.
	p.clear("#identifier")
	p.clickJourneyBuilder("next")
	s := p.waitPassCheck("the identifier's error", func(s passCheckState) bool { return s.IdentifierError != "" })
	if s.IdentifierError != "Enter the custom ID to find the pass by: a data binding or a fixed value." {
		t.Errorf("without an identifier the page shows %q", s.IdentifierError)
	}

	// Find the pass by the entry source's email, of any type.
	p.click(`label[for="identifier-type-email"]`)
	p.typeInto("#identifier", "{{Event.DEAudience-1.Email}}")
	p.clear("#pass-type")
	if s := p.passCheckState(); s.IdentifierError != "" {
		t.Errorf("typing an identifier leaves the error %q", s.IdentifierError)
	}
	if !jbValue[bool](p, `jb.dirty`) {
		t.Error("an edit must mark the activity dirty, so Journey Builder asks before it discards it")
	}
	if os.Getenv("PASSPUSH_UPDATE_SCREENSHOT") != "" {
		p.saveReadmeScreenshot("passcheck-page.png")
	}
	p.clickJourneyBuilder("next")
	p.waitJB("updateActivity", `jb.updates.length === 1`)
	saved := p.updates()[0]
	execute := saved["arguments"].(map[string]any)["execute"].(map[string]any)
	wantIn := asJSON(t, []map[string]any{{"email": "{{Event.DEAudience-1.Email}}"}})
	if !reflect.DeepEqual(execute["inArguments"], wantIn) {
		t.Fatalf("the page saved inArguments\n%v\nwant\n%v", execute["inArguments"], wantIn)
	}
	// isConfigured is set, and everything else Journey Builder handed the page comes back as it was.
	before := asJSON(t, savedPassCheck(h)).(map[string]any)
	before["arguments"].(map[string]any)["execute"].(map[string]any)["inArguments"] = wantIn
	if !reflect.DeepEqual(saved, before) {
		t.Fatalf("updateActivity sent\n%v\nwant\n%v", saved, before)
	}

	// A split just dropped on the canvas: the default inArguments, no key yet, so the bindings say where it goes.
	fresh := `{"arguments":{"execute":{"inArguments":[{"email":"{{InteractionDefaults.Email}}"},{"passType":"coupon"}]}},"metaData":{"isConfigured":false}}`
	p.do(chromedp.Evaluate[chromedp.Void](`reopen(` + fresh + `)`))
	s = p.waitPassCheck("the fresh split", func(s passCheckState) bool { return s.PassType == "coupon" })
	if s.IdentifierType != "email" || s.Identifier != "{{InteractionDefaults.Email}}" || s.Bindings[3] != "{{Interaction.<activity key>.appleLink}}" {
		t.Fatalf("a fresh split shows %+v", s)
	}
	p.clickJourneyBuilder("next")
	p.waitJB("the second updateActivity", `jb.updates.length === 2`)
	if got := p.updates()[1]; !reflect.DeepEqual(got, asJSON(t, map[string]any{
		"arguments": map[string]any{"execute": map[string]any{"inArguments": []any{map[string]any{"email": "{{InteractionDefaults.Email}}"}, map[string]any{"passType": "coupon"}}}},
		"metaData":  map[string]any{"isConfigured": true},
	})) {
		t.Fatalf("the fresh split saved %v", got)
	}
	p.noConsoleErrors()
}

func TestPassCheckPage_isServedUnderItsBasePathWithTheSharedAssets(t *testing.T) {
	h := start(t, browserTestConfig())
	h.addTenant("acme")
	index := h.getAsset(passCheckBase+"/index.html", nil)
	root := h.getAsset(passCheckBase+"/", nil)
	if index.status != http.StatusOK || root.status != http.StatusOK || !bytes.Equal(index.body, root.body) {
		t.Fatalf("index.html %d and / %d must serve the same page", index.status, root.status)
	}
	if !bytes.Contains(index.body, []byte("<title>Wallet pass?</title>")) || index.header.Get("Cache-Control") != "no-cache" ||
		index.header.Get("Content-Security-Policy") != "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors http://127.0.0.1:*" {
		t.Fatalf("the split's page: %v", index.header)
	}
	for _, ref := range []string{`src="postmonger.js"`, `src="passcheck.js"`, `href="salesforce-lightning-design-system.min.css"`, `href="passcheck.css"`, `src="icon.svg"`} {
		if !bytes.Contains(index.body, []byte(ref)) {
			t.Errorf("index.html does not load %s", ref)
		}
	}
	// The shared files are the very ones pushupdate's page loads: the same bytes and ETag, so one cached copy.
	for _, name := range []string{"postmonger.js", "salesforce-lightning-design-system.min.css", "icon.svg", "LICENSE-postmonger.txt", "LICENSE-slds.txt"} {
		split, push := h.getAsset(passCheckBase+"/"+name, nil), h.getAsset(activityBase+"/"+name, nil)
		if split.status != http.StatusOK || !bytes.Equal(split.body, push.body) || split.header.Get("ETag") != push.header.Get("ETag") ||
			split.header.Get("Cache-Control") != "public, max-age=86400" {
			t.Errorf("%s: %d, ETag %q, want pushupdate's %q", name, split.status, split.header.Get("ETag"), push.header.Get("ETag"))
		}
	}
	for name, contentType := range map[string]string{"passcheck.js": "text/javascript; charset=utf-8", "passcheck.css": "text/css; charset=utf-8"} {
		if res := h.getAsset(passCheckBase+"/"+name, nil); res.status != http.StatusOK || res.header.Get("Content-Type") != contentType {
			t.Errorf("%s: %d %q", name, res.status, res.header.Get("Content-Type"))
		}
	}
	// Each page has only its own files: neither serves the other's.
	for _, path := range []string{passCheckBase + "/activity.js", passCheckBase + "/activity.css", passCheckBase + "/THIRD_PARTY.md",
		passCheckBase + "/passcheck/index.html", activityBase + "/passcheck.js", activityBase + "/passcheck/index.html"} {
		if res := h.getAsset(path, nil); res.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.status)
		}
	}
	// An unknown tenant has no page.
	if res := h.getAsset(strings.Replace(passCheckBase, "acme", "nobody", 1)+"/index.html", nil); res.status != http.StatusNotFound {
		t.Errorf("an unknown tenant's page: %d, want 404", res.status)
	}
}
