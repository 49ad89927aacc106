package applepass

import (
	"errors"
	"strings"
	"testing"
)

const storeCardJSON = `{
  "formatVersion": 1,
  "passTypeIdentifier": "pass.com.example.test",
  "teamIdentifier": "TEMPLATE",
  "organizationName": "Example",
  "description": "{{brand}} card",
  "storeCard": {
    "primaryFields": [{"key": "balance", "label": "Balance", "value": 0, "currencyCode": "EUR"}]
  }
}`

func validFiles() map[string][]byte {
	return map[string][]byte{
		"pass.json":             []byte(storeCardJSON),
		"icon.png":              []byte("icon"),
		"icon@2x.png":           []byte("icon2x"),
		"fr.lproj/pass.strings": []byte(`"Balance" = "Solde";`),
	}
}

func TestParseTemplate_acceptsAValidTemplate(t *testing.T) {
	tpl, err := ParseTemplate(validFiles())
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	if got := tpl.PassTypeIdentifier(); got != "pass.com.example.test" {
		t.Errorf("PassTypeIdentifier = %q", got)
	}
	if got := tpl.Style(); got != "storeCard" {
		t.Errorf("Style = %q", got)
	}
	if got := strings.Join(tpl.FileNames(), ","); got != "fr.lproj/pass.strings,icon.png,icon@2x.png" {
		t.Errorf("FileNames = %s", got)
	}
	if got := len(tpl.Files()); got != 4 {
		t.Errorf("len(Files) = %d, want 4", got)
	}
}

func TestParseTemplate_dropsWhatABuildMakes(t *testing.T) {
	files := validFiles()
	files["manifest.json"] = []byte("{}")
	files["signature"] = []byte("sig")
	tpl, err := ParseTemplate(files)
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	for _, name := range []string{"manifest.json", "signature"} {
		if _, ok := tpl.File(name); ok {
			t.Errorf("template keeps %s", name)
		}
	}
}

func TestParseTemplate_namesTheFileAndTheFieldOfEachFault(t *testing.T) {
	without := func(name string) map[string][]byte { f := validFiles(); delete(f, name); return f }
	withPass := func(json string) map[string][]byte { f := validFiles(); f["pass.json"] = []byte(json); return f }
	with := func(name string) map[string][]byte { f := validFiles(); f[name] = []byte("x"); return f }
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no pass.json", without("pass.json"), "pass.json: missing"},
		{"no icon", without("icon.png"), "icon.png: missing"},
		{"broken JSON", withPass(`{"passTypeIdentifier": "pass.x", "generic": {}`), "pass.json: invalid JSON"},
		{"trailing data", withPass(`{"passTypeIdentifier": "pass.x", "generic": {}} {}`), "pass.json: invalid JSON"},
		{"not an object", withPass(`["generic"]`), "pass.json: must be a JSON object"},
		{"no passTypeIdentifier", withPass(`{"generic": {}}`), "pass.json: passTypeIdentifier: missing"},
		{"empty passTypeIdentifier", withPass(`{"passTypeIdentifier": "", "generic": {}}`), "pass.json: passTypeIdentifier: must be a non-empty string"},
		{"number passTypeIdentifier", withPass(`{"passTypeIdentifier": 1, "generic": {}}`), "pass.json: passTypeIdentifier: must be a non-empty string"},
		{"no style", withPass(`{"passTypeIdentifier": "pass.x"}`), "pass.json: style: missing: want exactly one of storeCard, coupon, eventTicket, boardingPass, generic"},
		{"two styles", withPass(`{"passTypeIdentifier": "pass.x", "coupon": {}, "generic": {}}`), "pass.json: style: coupon, generic are all present: want exactly one"},
		{"style not an object", withPass(`{"passTypeIdentifier": "pass.x", "generic": []}`), "pass.json: generic: must be an object"},
		{"fields not an array", withPass(`{"passTypeIdentifier": "pass.x", "generic": {"backFields": {}}}`), "pass.json: generic.backFields: must be an array of field dictionaries"},
		{"field not a dictionary", withPass(`{"passTypeIdentifier": "pass.x", "generic": {"backFields": ["x"]}}`), "pass.json: generic.backFields[0]: must be a field dictionary"},
		{"field without key", withPass(`{"passTypeIdentifier": "pass.x", "generic": {"primaryFields": [{"value": 1}]}}`), "pass.json: generic.primaryFields[0].key: must be a non-empty string"},
		{"traversal", with("../icon.png"), "../icon.png: file name must stay inside the template"},
		{"absolute", with("/etc/passwd"), "/etc/passwd: file name must be a relative slash-separated path"},
		{"backslash", with(`fr.lproj\pass.strings`), `fr.lproj\pass.strings: file name must be a relative`},
		{"other folder", with("images/icon.png"), "images/icon.png: only files at the top level and in *.lproj/ folders"},
		{"nested lproj", with("fr.lproj/x/y.png"), "fr.lproj/x/y.png: only files at the top level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.files)
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("err = %v, want ErrInvalidTemplate", err)
			}
			var fault TemplateFault
			if !errors.As(err, &fault) {
				t.Fatalf("err = %v, want a TemplateFault", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseTemplate_reportsEveryFault(t *testing.T) {
	_, err := ParseTemplate(map[string][]byte{"pass.json": []byte(`{"generic": {}, "coupon": {}}`)})
	for _, want := range []string{"passTypeIdentifier: missing", "style: coupon, generic", "icon.png: missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}

func TestTemplate_isNotChangedThroughItsInputOrOutput(t *testing.T) {
	files := validFiles()
	tpl, err := ParseTemplate(files)
	if err != nil {
		t.Fatal(err)
	}
	files["pass.json"][0] = 'X'
	files["icon.png"][0] = 'X'
	tpl.PassJSON()[0] = 'X'
	delete(tpl.Files(), "icon.png")
	if tpl.PassJSON()[0] != '{' {
		t.Error("changing the input or PassJSON's result changed the template's pass.json")
	}
	if b, ok := tpl.File("icon.png"); !ok || string(b) != "icon" {
		t.Errorf("icon.png = %q, %v", b, ok)
	}
}
