package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	httpport "github.com/passpush/passpush/ports/http"
)

// browserTestConfig lets the Journey Builder test double, served from the loopback, frame the page: by default
// only Marketing Cloud's origins may (PASSPUSH_FRAME_ANCESTORS), and chromium enforces that.
func browserTestConfig() httpport.Config {
	return httpport.Config{AdminToken: adminToken, FrameAncestors: "http://127.0.0.1:*"}
}

// chromiumPath is Debian's chromium, which .ci/install-chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// savedActivity is the activity Journey Builder hands the page in initActivity: what a marketer saved last
// time. The fields beside inArguments are Journey Builder's and must come back unchanged.
func savedActivity(h *harness) map[string]any {
	base := h.url + activityBase
	return map[string]any{
		"id":   "a5e3c1f0-activity",
		"key":  "REST-1",
		"name": "Update wallet pass",
		"type": "REST",
		"arguments": map[string]any{"execute": map[string]any{
			"inArguments": []any{
				map[string]any{"customId": "{{Contact.Attribute.Loyalty.MemberId}}"},
				map[string]any{"passType": "loyalty"},
				map[string]any{"offer": "{{Contact.Attribute.Offers.Text}}"},
				map[string]any{"tier": "gold"},
				// A configuration saved as an additionalData JSON string is read too.
				map[string]any{"additionalData": `{"points":"{{Contact.Attribute.Loyalty.Points}}"}`},
				map[string]any{"message": "New offer: {{Contact.Attribute.Offers.Text}}"},
			},
			"outArguments": []any{map[string]any{"status": ""}, map[string]any{"passes": 0}},
			"url":          base + "/execute",
			"useJwt":       true,
			"timeout":      20000,
		}},
		"configurationArguments": map[string]any{"publish": map[string]any{"url": base + "/publish", "useJwt": true}},
		"metaData":               map[string]any{"icon": base + "/icon.svg", "category": "message", "isConfigured": true},
	}
}

// entrySchema is what Journey Builder answers requestSchema with: the entry source's fields.
var entrySchema = []map[string]any{
	{"key": "Event.DEAudience-1.Email", "name": "Email", "type": "EmailAddress"},
	{"key": "Event.DEAudience-1.Offer", "name": "Offer", "type": "Text"},
	{"key": "Event.DEAudience-1.MemberId", "name": "MemberId", "type": "Text"},
}

// pageSavedInArguments are the inArguments the page saves after the browser test's edits. The execute test
// below sends exactly these, so the two tests chain the page to a pass update even where no browser runs.
var pageSavedInArguments = []map[string]any{
	{"email": "{{Event.DEAudience-1.Email}}"},
	{"passType": "loyalty"},
	{"offer": "{{Event.DEAudience-1.Offer}}"},
	{"points": "{{Contact.Attribute.Loyalty.Points}}"},
	{"expires": "2026-12-31"},
	{"message": "Your offer: {{Event.DEAudience-1.Offer}}"},
}

// journeyBuilderPage is a test double of Journey Builder's canvas: it frames the configuration page, speaks
// Postmonger to it with the vendored postmonger.js, and records what the page sends in window.jb. Its
// Next/Done and Back buttons play Journey Builder's modal buttons.
const journeyBuilderPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Journey Builder test double</title>
<link rel="icon" href="data:,">
<style>
  body { margin: 0; font-family: sans-serif; background: #fff; }
  #activity-frame { display: block; width: 860px; height: 640px; border: 0; border-bottom: 1px solid #e5e5e5; }
  footer { width: 860px; box-sizing: border-box; display: flex; justify-content: flex-end; gap: 8px; padding: 10px 16px; background: #f3f3f3; }
  footer button { font: inherit; padding: 4px 14px; }
</style>
<script src="%[1]s/postmonger.js"></script>
</head><body>
<iframe id="activity-frame" title="Activity configuration"></iframe>
<footer><button id="jb-back" hidden>Back</button><button id="jb-next">Next</button></footer>
<script type="application/json" id="saved">%[2]s</script>
<script type="application/json" id="schema">%[3]s</script>
<script>
  var frame = document.getElementById('activity-frame');
  var origin = new URL(%[4]q).origin;
  var jb = window.jb = { log: [], updates: [], buttons: {}, dirty: false, activity: JSON.parse(document.getElementById('saved').textContent) };
  var session = new Postmonger.Session({ connect: frame, from: origin, to: origin });
  function record(name) { return function (payload) { jb.log.push(name); }; }
  session.on('ready', function () { jb.log.push('ready'); session.trigger('initActivity', jb.activity); });
  session.on('requestTokens', function () { jb.log.push('requestTokens'); session.trigger('requestedTokens', { token: 'legacy-token', fuel2token: 'fuel2-token' }); });
  session.on('requestEndpoints', function () { jb.log.push('requestEndpoints'); session.trigger('requestedEndpoints', { fuelapiRestHost: 'https://mc.rest.example.com/' }); });
  session.on('requestSchema', function () {
    jb.log.push('requestSchema');
    session.trigger('requestedSchema', { schema: JSON.parse(document.getElementById('schema').textContent) });
  });
  session.on('setActivityDirtyState', function (dirty) { jb.dirty = dirty; });
  session.on('updateActivity', function (activity) { jb.log.push('updateActivity'); jb.updates.push(JSON.parse(JSON.stringify(activity))); });
  session.on('updateButton', function (b) {
    jb.buttons[b.button] = Object.assign(jb.buttons[b.button] || {}, b);
    var el = document.getElementById('jb-' + b.button);
    if (!el) { return; }
    if ('visible' in b) { el.hidden = !b.visible; }
    if (b.text) { el.textContent = b.text === 'done' ? 'Done' : b.text === 'next' ? 'Next' : b.text; }
  });
  document.getElementById('jb-next').addEventListener('click', function () { session.trigger('clickedNext'); });
  document.getElementById('jb-back').addEventListener('click', function () { session.trigger('clickedBack'); });
  // Journey Builder opens the modal again: the page gets initActivity once more, without a reload.
  window.reopen = function (activity) { jb.activity = activity; session.trigger('initActivity', activity); };
  frame.src = %[4]q;
</script>
</body></html>`

// configPage drives the configuration page in chromium, inside the Journey Builder test double.
type configPage struct {
	t   *testing.T
	ctx context.Context
	// frame is the iframe element that holds the configuration page.
	frame *chromedp.Node

	mu      sync.Mutex
	console []string
}

// pageState is what the configuration page shows.
type pageState struct {
	Step           string      `json:"step"`
	IdentifierType string      `json:"identifierType"`
	Identifier     string      `json:"identifier"`
	PassType       string      `json:"passType"`
	Fields         [][2]string `json:"fields"`
	Message        string      `json:"message"`
	// Errors are the inputs shown in error, by id, with the text next to them.
	Errors map[string]string `json:"errors"`
	// KeyErrors are the texts next to each field row's key, in row order.
	KeyErrors []string `json:"keyErrors"`
	Bindings  []string `json:"bindings"`
}

const readPageState = `function () {
  var d = this.ownerDocument;
  var checked = d.querySelector('input[name="identifierType"]:checked');
  var errors = {};
  d.querySelectorAll('.slds-form-element.slds-has-error').forEach(function (el) {
    var input = el.querySelector('input, textarea');
    if (input.getAttribute('aria-invalid') !== 'true') { errors[input.id] = '(not marked aria-invalid)'; return; }
    var help = d.getElementById(input.id + '-error');
    errors[input.id] = help && el.contains(help) ? help.textContent : '(no help text next to the input)';
  });
  return {
    // The steps the marketer can see: exactly one at a time.
    step: Array.prototype.filter.call(d.querySelectorAll('section[data-step]'), function (s) { return s.getClientRects().length > 0; })
      .map(function (s) { return s.getAttribute('data-step'); }).join(','),
    identifierType: checked ? checked.value : '',
    identifier: d.getElementById('identifier').value,
    passType: d.getElementById('pass-type').value,
    fields: Array.prototype.map.call(d.querySelectorAll('#fields .field-row'), function (row) {
      return [row.querySelector('.field-key').value, row.querySelector('.field-value').value];
    }),
    message: d.getElementById('message').value,
    errors: errors,
    keyErrors: Array.prototype.map.call(d.querySelectorAll('#fields .field-key-error'), function (e) { return e.textContent; }),
    bindings: Array.prototype.map.call(d.querySelectorAll('#bindings option'), function (o) { return o.value; })
  };
}`

func openConfigPage(t *testing.T, h *harness) *configPage {
	t.Helper()
	return openActivityPage(t, h, activityBase, savedActivity(h))
}

// openActivityPage opens the configuration page served under base in the Journey Builder test double, which
// hands it saved in initActivity.
func openActivityPage(t *testing.T, h *harness, base string, savedActivity map[string]any) *configPage {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: the browser test must run in CI; install it with .ci/install-chromium.sh", chromiumPath)
		}
		t.Skipf("%s is missing; .ci/install-chromium.sh installs it", chromiumPath)
	}
	saved, _ := json.Marshal(savedActivity)
	schema, _ := json.Marshal(entrySchema)
	pageURL := h.url + base + "/index.html"
	jb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, journeyBuilderPage, h.url+base, saved, schema, pageURL)
	}))
	t.Cleanup(jb.Close)

	// The flags suit a sandbox: root, no network beyond the loopback.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // waits for chromium to exit, before t.TempDir is removed
	})
	p := &configPage{t: t, ctx: ctx}

	// Any exception, failed load or policy violation, in Journey Builder's page or ours, fails the test.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				p.mu.Lock()
				p.console = append(p.console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.screenshot("config-page-failure.png")
		}
	})

	// Room for the 860×640 modal and its buttons, so no click has to scroll.
	p.do(chromedp.EmulateViewport(900, 720), chromedp.Navigate(jb.URL))
	p.waitJB("the page to ask for its activity", `jb.log.indexOf('ready') >= 0`)
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#activity-frame")))
	if err != nil || len(frames) != 1 {
		t.Fatalf("find the activity's iframe: %v", err)
	}
	p.frame = frames[0]
	return p
}

func (p *configPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// in runs a query inside the configuration page.
func (p *configPage) in() chromedp.QueryOption { return chromedp.FromNode(p.frame) }

// call runs a JavaScript function in the configuration page, with this = the first element css selects, and
// returns its result as JSON.
func (p *configPage) call(css, function string) []byte {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.QueryAfter(chromedp.CSS(css),
		func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) ([]byte, error) {
			obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: nodes[0].NodeID})
			if err != nil {
				return nil, err
			}
			return chromedp.CallFunctionOn[[]byte](function, func(c *runtime.CallFunctionOnParams) {
				c.ObjectID = obj.Object.ObjectID
			})(ctx, t)
		}, p.in()))
	if err != nil {
		p.t.Fatalf("run %s on %s in the configuration page: %v", function, css, err)
	}
	return raw
}

// state reads what the configuration page shows.
func (p *configPage) state() pageState {
	p.t.Helper()
	raw := p.call("body", readPageState)
	var s pageState
	if err := json.Unmarshal(raw, &s); err != nil {
		p.t.Fatalf("read the configuration page: %v: %s", err, raw)
	}
	return s
}

// jb evaluates an expression in Journey Builder's page.
func jbValue[T any](p *configPage, expression string) T {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](expression))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expression, err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		p.t.Fatalf("evaluate %s: %v: %s", expression, err, raw)
	}
	return v
}

func (p *configPage) waitJB(what, expression string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expression)); err != nil {
		p.t.Fatalf("waiting for %s (%s): %v", what, expression, err)
	}
}

func (p *configPage) waitState(what string, cond func(pageState) bool) pageState {
	p.t.Helper()
	var s pageState
	eventually(p.t, 15*time.Second, what, func() bool { s = p.state(); return cond(s) })
	return s
}

// typeInto replaces an input's text by typing, as a marketer does. (chromedp.Clear only resets the value
// attribute, which no longer shows once a script has set the value.)
func (p *configPage) typeInto(css, text string) {
	p.t.Helper()
	p.clear(css)
	p.do(chromedp.SendKeys(chromedp.CSS(css), text, p.in()))
}

// clear empties an input, as selecting its text and deleting it does.
func (p *configPage) clear(css string) {
	p.t.Helper()
	p.call(css, `function () { this.value = ''; this.dispatchEvent(new Event('input', { bubbles: true })); }`)
}

func (p *configPage) click(css string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(css), p.in(), chromedp.NodeVisible))
}

// clickJourneyBuilder clicks one of the modal's buttons, which Journey Builder draws outside the page.
func (p *configPage) clickJourneyBuilder(button string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS("#jb-"+button), chromedp.NodeVisible))
}

func (p *configPage) updates() []map[string]any {
	p.t.Helper()
	return jbValue[[]map[string]any](p, `jb.updates`)
}

// screenshot saves the viewport under PASSPUSH_ARTIFACTS_DIR, or the test's temporary directory.
func (p *configPage) screenshot(name string) string {
	dir := os.Getenv("PASSPUSH_ARTIFACTS_DIR")
	if dir == "" {
		dir = p.t.TempDir()
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	path := filepath.Join(dir, name)
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	p.t.Logf("screenshot: %s", path)
	return path
}

func (p *configPage) noConsoleErrors() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.console) > 0 {
		p.t.Fatalf("the browser reported:\n%s", strings.Join(p.console, "\n"))
	}
}

// asJSON makes a value comparable with what the browser returns.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConfigPage_roundTripsAConfigurationThroughPostmonger(t *testing.T) {
	h := start(t, browserTestConfig())
	h.addTenant("acme")
	p := openConfigPage(t, h)

	// initActivity restores the saved configuration, and requestSchema offers the entry source's fields.
	restored := p.waitState("the saved configuration", func(s pageState) bool { return s.Identifier != "" && len(s.Bindings) > 2 })
	want := pageState{
		Step: "pass", IdentifierType: "customId", Identifier: "{{Contact.Attribute.Loyalty.MemberId}}", PassType: "loyalty",
		Fields: [][2]string{
			{"offer", "{{Contact.Attribute.Offers.Text}}"}, {"tier", "gold"}, {"points", "{{Contact.Attribute.Loyalty.Points}}"},
		},
		Message: "New offer: {{Contact.Attribute.Offers.Text}}", Errors: map[string]string{}, KeyErrors: []string{"", "", ""},
		Bindings: []string{"{{InteractionDefaults.Email}}", "{{Contact.Key}}", "{{Event.DEAudience-1.Email}}", "{{Event.DEAudience-1.Offer}}", "{{Event.DEAudience-1.MemberId}}"},
	}
	if !reflect.DeepEqual(restored, want) {
		t.Fatalf("the page shows\n%+v\nwant\n%+v", restored, want)
	}
	for _, call := range []string{"requestEndpoints", "requestSchema"} {
		if !jbValue[bool](p, fmt.Sprintf(`jb.log.indexOf(%q) >= 0`, call)) {
			t.Errorf("the page never sent %s", call)
		}
	}
	// Issue 13 §7: the page has no use for SFMC tokens and does not ask for them, and it talks to Journey
	// Builder's origin only, never to "*".
	if jbValue[bool](p, `jb.log.indexOf('requestTokens') >= 0`) {
		t.Errorf("the page asked for SFMC tokens")
	}
	var parentOrigin string
	if err := json.Unmarshal(p.call("body", `function () { return this.ownerDocument.defaultView.passpushActivity.parentOrigin; }`), &parentOrigin); err != nil {
		t.Fatal(err)
	}
	if want := jbValue[string](p, `window.location.origin`); parentOrigin != want {
		t.Errorf("the page talks to %q, want Journey Builder's origin %q", parentOrigin, want)
	}
	if b := jbValue[map[string]any](p, `jb.buttons.next`); b["text"] != "next" || b["visible"] != true {
		t.Errorf("on the first step Journey Builder's button must read next: %v", b)
	}

	// Step 1: find the passes by the entry source's email.
	p.click(`label[for="identifier-type-email"]`)
	p.typeInto("#identifier", "{{Event.DEAudience-1.Email}}")
	p.clickJourneyBuilder("next")
	p.waitState("the second step", func(s pageState) bool { return s.Step == "update" })
	if b := jbValue[map[string]any](p, `jb.buttons`); b["next"].(map[string]any)["text"] != "done" || b["back"].(map[string]any)["visible"] != true {
		t.Errorf("on the last step the buttons must read done and back: %v", b)
	}
	if !jbValue[bool](p, `jb.dirty`) {
		t.Error("an edit must mark the activity dirty, so Journey Builder asks before it discards it")
	}

	// Step 2: change a value, remove a row, add one, change the message.
	p.typeInto("#fields .field-row:nth-child(1) .field-value", "{{Event.DEAudience-1.Offer}}")
	p.click("#fields .field-row:nth-child(2) .field-remove")
	p.click("#add-field")
	p.typeInto("#fields .field-row:nth-child(3) .field-key", "expires")
	p.typeInto("#fields .field-row:nth-child(3) .field-value", "2026-12-31")
	p.typeInto("#message", "Your offer: {{Event.DEAudience-1.Offer}}")
	p.screenshot("config-page.png")
	if os.Getenv("PASSPUSH_UPDATE_SCREENSHOT") != "" {
		p.saveReadmeScreenshot("config-page.png")
	}

	p.clickJourneyBuilder("next")
	p.waitJB("updateActivity", `jb.updates.length === 1`)
	saved := p.updates()[0]
	execute := saved["arguments"].(map[string]any)["execute"].(map[string]any)
	if got, want := execute["inArguments"], asJSON(t, pageSavedInArguments); !reflect.DeepEqual(got, want) {
		t.Fatalf("the page saved inArguments\n%v\nwant\n%v", got, want)
	}
	if saved["metaData"].(map[string]any)["isConfigured"] != true {
		t.Fatalf("metaData = %v, want isConfigured true", saved["metaData"])
	}
	// Everything else Journey Builder handed the page comes back as it was.
	before := asJSON(t, savedActivity(h)).(map[string]any)
	before["arguments"].(map[string]any)["execute"].(map[string]any)["inArguments"] = execute["inArguments"]
	if !reflect.DeepEqual(saved, before) {
		t.Fatalf("updateActivity changed more than the inArguments:\n%v\nwant\n%v", saved, before)
	}

	// The saved configuration, sent through a signed execute, updates the pass.
	executeThePagesArguments(t, h, execute["inArguments"].([]any))

	// Opening the modal again shows what was saved.
	p.do(chromedp.Evaluate[chromedp.Void](`reopen(jb.updates[0])`))
	reopened := p.waitState("the saved configuration again", func(s pageState) bool { return s.IdentifierType == "email" && s.Step == "pass" })
	if reopened.Identifier != "{{Event.DEAudience-1.Email}}" || len(reopened.Fields) != 3 || reopened.Fields[2] != [2]string{"expires", "2026-12-31"} ||
		reopened.Message != "Your offer: {{Event.DEAudience-1.Offer}}" {
		t.Fatalf("reopened page shows %+v", reopened)
	}
	p.noConsoleErrors()
}

func TestConfigPage_showsValidationErrorsNextToTheInputs(t *testing.T) {
	h := start(t, browserTestConfig())
	h.addTenant("acme")
	p := openConfigPage(t, h)
	p.waitState("the saved configuration", func(s pageState) bool { return s.Identifier != "" })

	// A freshly dropped activity: config.json's default inArguments, not configured yet.
	fresh := `{"key":"REST-1","arguments":{"execute":{"inArguments":[{"email":"{{InteractionDefaults.Email}}"}]}},"metaData":{"isConfigured":false}}`
	p.do(chromedp.Evaluate[chromedp.Void](`reopen(` + fresh + `)`))
	s := p.waitState("the default configuration", func(s pageState) bool { return s.IdentifierType == "email" })
	if s.Identifier != "{{InteractionDefaults.Email}}" || len(s.Fields) != 0 || s.PassType != "" || s.Message != "" {
		t.Fatalf("a fresh activity shows %+v", s)
	}

	// No identifier: the first step stays, with the error next to the input.
	p.clear("#identifier")
	p.clickJourneyBuilder("next")
	s = p.waitState("the identifier's error", func(s pageState) bool { return len(s.Errors) > 0 })
	if s.Step != "pass" || !reflect.DeepEqual(s.Errors, map[string]string{
		"identifier": "Enter the email address to find the passes by: a data binding or a fixed value.",
	}) {
		t.Fatalf("without an identifier the page shows %+v", s)
	}
	p.screenshot("config-page-error-identifier.png")

	// Typing clears the error.
	p.typeInto("#identifier", "{{Contact.Key}}")
	p.click(`label[for="identifier-type-customId"]`)
	if s = p.state(); len(s.Errors) != 0 {
		t.Fatalf("after typing an identifier the page still shows %v", s.Errors)
	}
	p.clickJourneyBuilder("next")
	p.waitState("the second step", func(s pageState) bool { return s.Step == "update" })

	// A duplicate key, an empty key and a reserved key.
	for i, row := range [][2]string{{"offer", "a"}, {"offer", "b"}, {"", "c"}, {"message", "d"}} {
		p.click("#add-field")
		p.typeInto(fmt.Sprintf("#fields .field-row:nth-child(%d) .field-key", i+1), row[0])
		p.typeInto(fmt.Sprintf("#fields .field-row:nth-child(%d) .field-value", i+1), row[1])
	}
	p.clickJourneyBuilder("next")
	s = p.waitState("the keys' errors", func(s pageState) bool { return len(s.Errors) > 0 })
	wantErrors := []string{
		"", `"offer" is already changed in row 1.`, "Enter the pass field to change, or remove this row.",
		`"message" is reserved for the activity itself; use another field name.`,
	}
	keyErrors := s.KeyErrors
	if s.Step != "update" || !reflect.DeepEqual(keyErrors, wantErrors) || len(s.Errors) != 3 {
		t.Fatalf("key errors = %q (all: %v), want %q", keyErrors, s.Errors, wantErrors)
	}
	p.screenshot("config-page-error-keys.png")
	if n := len(p.updates()); n != 0 {
		t.Fatalf("an invalid configuration was saved %d times", n)
	}

	// Fixing them saves.
	p.click("#fields .field-row:nth-child(2) .field-remove")
	p.typeInto("#fields .field-row:nth-child(2) .field-key", "points")
	p.typeInto("#fields .field-row:nth-child(3) .field-key", "note")
	if s = p.state(); len(s.Errors) != 0 {
		t.Fatalf("after the fixes the page still shows %v", s.Errors)
	}
	p.clickJourneyBuilder("next")
	p.waitJB("updateActivity", `jb.updates.length === 1`)
	got := p.updates()[0]
	want := asJSON(t, []map[string]any{{"customId": "{{Contact.Key}}"}, {"offer": "a"}, {"points": "c"}, {"note": "d"}})
	if in := got["arguments"].(map[string]any)["execute"].(map[string]any)["inArguments"]; !reflect.DeepEqual(in, want) ||
		got["metaData"].(map[string]any)["isConfigured"] != true {
		t.Fatalf("saved %v, want inArguments %v and isConfigured", got, want)
	}
	p.noConsoleErrors()
}

// saveReadmeScreenshot writes the configuration page, without the test double around it, to docs/name for the
// README. Run with PASSPUSH_UPDATE_SCREENSHOT=1 to refresh the screenshots.
func (p *configPage) saveReadmeScreenshot(name string) {
	p.t.Helper()
	p.call("body", `function () { this.ownerDocument.activeElement.blur(); }`)
	png, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.CSS(".activity"), p.in()))
	if err == nil {
		err = os.WriteFile(filepath.Join("..", "docs", name), png, 0o644)
	}
	if err != nil {
		p.t.Fatalf("README screenshot: %v", err)
	}
}
