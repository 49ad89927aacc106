package applepass

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const couponJSON = `{
  "formatVersion": 1,
  "passTypeIdentifier": "pass.com.example.test",
  "teamIdentifier": "TEMPLATETEAM",
  "serialNumber": "template-serial",
  "organizationName": "Example",
  "description": "{{brand}} coupon for {{ email }}",
  "logoText": "{{brand}}",
  "vendorExtension": {"keep": ["me", 1.50]},
  "barcode": {"format": "PKBarcodeFormatQR", "message": "{{passId}}", "messageEncoding": "iso-8859-1"},
  "barcodes": [{"format": "PKBarcodeFormatQR", "message": "{{customId}}-{{unknown}}", "messageEncoding": "iso-8859-1"}],
  "coupon": {
    "headerFields": [{"key": "points", "label": "Points", "value": 0}],
    "primaryFields": [{"key": "offer", "label": "{{brand}} offer", "value": "none", "changeMessage": "New offer: %@"}],
    "secondaryFields": [{"key": "balance", "label": "Balance", "value": 0, "currencyCode": "EUR"}],
    "auxiliaryFields": [{"key": "tier", "label": "Tier", "value": "{{tier}}"}],
    "backFields": [{"key": "terms", "label": "Terms", "value": "Valid for {{email}}"}]
  }
}`

func couponTemplate(t testing.TB, passJSON string) Template {
	t.Helper()
	tpl, err := ParseTemplate(map[string][]byte{"pass.json": []byte(passJSON), "icon.png": []byte("icon")})
	if err != nil {
		t.Fatalf("ParseTemplate: %v", err)
	}
	return tpl
}

func passData() PassData {
	return PassData{
		SerialNumber:        "P-1",
		PassTypeIdentifier:  "pass.com.example.test",
		TeamIdentifier:      "TEAMID1234",
		WebServiceURL:       "https://passpush.example/api/t1/apple",
		AuthenticationToken: strings.Repeat("a", 32),
		Data: map[string]string{
			"email": "ann@example.com", "customId": "C-9", "brand": "Acme",
			"offer": "20% off", "points": "120", "balance": "12.50", "tier": "gold",
		},
	}
}

func render(t *testing.T, tpl Template, p PassData) map[string]any {
	t.Helper()
	out, err := Render(tpl, p)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	var doc map[string]any
	d := json.NewDecoder(strings.NewReader(string(out)))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("Render's output is not JSON: %v\n%s", err, out)
	}
	return doc
}

// at walks doc along a path of map keys and slice indexes.
func at(t *testing.T, doc any, path ...any) any {
	t.Helper()
	v := doc
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, p)
			}
			v = m[p]
		case int:
			s, ok := v.([]any)
			if !ok || p >= len(s) {
				t.Fatalf("%v: no element %d", path, p)
			}
			v = s[p]
		}
	}
	return v
}

func TestRender_setsTheIdentifiersOfThePass(t *testing.T) {
	doc := render(t, couponTemplate(t, couponJSON), passData())
	for key, want := range map[string]string{
		"serialNumber":        "P-1",
		"passTypeIdentifier":  "pass.com.example.test",
		"teamIdentifier":      "TEAMID1234",
		"webServiceURL":       "https://passpush.example/api/t1/apple",
		"authenticationToken": strings.Repeat("a", 32),
	} {
		if got := at(t, doc, key); got != want {
			t.Errorf("%s = %v, want %q", key, got, want)
		}
	}
}

func TestRender_fieldsWhoseKeyIsADataKeyTakeItsValue(t *testing.T) {
	doc := render(t, couponTemplate(t, couponJSON), passData())
	for _, tc := range []struct {
		path []any
		want any
	}{
		{[]any{"coupon", "primaryFields", 0, "value"}, "20% off"},
		{[]any{"coupon", "primaryFields", 0, "changeMessage"}, "New offer: %@"},
		{[]any{"coupon", "headerFields", 0, "value"}, json.Number("120")},
		{[]any{"coupon", "secondaryFields", 0, "value"}, json.Number("12.50")},
		{[]any{"coupon", "auxiliaryFields", 0, "value"}, "gold"},
		{[]any{"coupon", "backFields", 0, "value"}, "Valid for ann@example.com"},
	} {
		if got := at(t, doc, tc.path...); got != tc.want {
			t.Errorf("%v = %#v, want %#v", tc.path, got, tc.want)
		}
	}
}

func TestRender_aNumberFieldTakesTextThatIsNotANumber(t *testing.T) {
	p := passData()
	p.Data["points"] = "lots"
	doc := render(t, couponTemplate(t, couponJSON), p)
	if got := at(t, doc, "coupon", "headerFields", 0, "value"); got != "lots" {
		t.Errorf("value = %#v, want \"lots\"", got)
	}
}

func TestRender_replacesPlaceholdersInEveryString(t *testing.T) {
	p := passData()
	delete(p.Data, "tier")
	doc := render(t, couponTemplate(t, couponJSON), p)
	for _, tc := range []struct {
		path []any
		want any
	}{
		{[]any{"description"}, "Acme coupon for ann@example.com"},
		{[]any{"logoText"}, "Acme"},
		{[]any{"barcode", "message"}, "P-1"}, // passId falls back to the serial number
		{[]any{"barcodes", 0, "message"}, "C-9-"},
		{[]any{"coupon", "primaryFields", 0, "label"}, "Acme offer"},
		{[]any{"coupon", "auxiliaryFields", 0, "value"}, ""}, // unknown name
		{[]any{"vendorExtension", "keep", 0}, "me"},
		{[]any{"vendorExtension", "keep", 1}, json.Number("1.50")},
	} {
		if got := at(t, doc, tc.path...); got != tc.want {
			t.Errorf("%v = %#v, want %#v", tc.path, got, tc.want)
		}
	}
}

func TestRender_aDataValueIsNeverReadAsATemplate(t *testing.T) {
	p := passData()
	p.Data["brand"] = "{{email}}"
	p.Data["offer"] = "{{email}}"
	doc := render(t, couponTemplate(t, couponJSON), p)
	if got := at(t, doc, "logoText"); got != "{{email}}" {
		t.Errorf("logoText = %v", got)
	}
	if got := at(t, doc, "coupon", "primaryFields", 0, "value"); got != "{{email}}" {
		t.Errorf("offer = %v", got)
	}
}

func TestRender_placeholderEdges(t *testing.T) {
	r := renderer{data: map[string]string{"a": "A", "b": "B"}, serial: "S"}
	for in, want := range map[string]string{
		"":                  "",
		"plain":             "plain",
		"{{a}}{{b}}":        "AB",
		"x{{ a }}y":         "xAy",
		"{{a":               "{{a",
		"{{a}":              "{{a}",
		"{{{a}}}":           "{A}",
		"{{a}b}}":           "{{a}b}}",
		"}}{{":              "}}{{",
		"{{}}":              "",
		"{{passId}}":        "S",
		"{{nope}}|{{a}}|{{": "|A|{{",
		"é{{a}}é":           "éAé",
	} {
		if got := r.replace(in); got != want {
			t.Errorf("replace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRender_messageGoesIntoABackFieldThatWalletAnnounces(t *testing.T) {
	p := passData()
	p.Message = "Your offer changed"
	doc := render(t, couponTemplate(t, couponJSON), p)
	back := at(t, doc, "coupon", "backFields").([]any)
	if len(back) != 2 {
		t.Fatalf("backFields = %v, want the template's and the message", back)
	}
	msg := back[1].(map[string]any)
	if msg["key"] != "message" || msg["value"] != "Your offer changed" || msg["changeMessage"] != "%@" {
		t.Errorf("message field = %v", msg)
	}
}

func TestRender_messageKeepsTheTemplatesMessageField(t *testing.T) {
	tpl := couponTemplate(t, `{"passTypeIdentifier": "pass.x", "generic": {"backFields": [
		{"key": "message", "label": "News", "value": "{{brand}}", "textAlignment": "PKTextAlignmentLeft"}]}}`)
	p := passData()
	withMessage := p
	withMessage.Message = "Hello"
	field := at(t, render(t, tpl, withMessage), "generic", "backFields", 0).(map[string]any)
	if field["value"] != "Hello" || field["changeMessage"] != "%@" || field["label"] != "News" || field["textAlignment"] != "PKTextAlignmentLeft" {
		t.Errorf("message field = %v", field)
	}
	if n := len(at(t, render(t, tpl, withMessage), "generic", "backFields").([]any)); n != 1 {
		t.Errorf("%d back fields, want 1", n)
	}
	field = at(t, render(t, tpl, p), "generic", "backFields", 0).(map[string]any)
	if field["value"] != "Acme" {
		t.Errorf("without a message, the field keeps the template's value: %v", field)
	}
	if _, ok := field["changeMessage"]; ok {
		t.Errorf("without a message, no changeMessage is added: %v", field)
	}
}

func TestRender_messageMakesBackFieldsWhenTheStyleHasNone(t *testing.T) {
	tpl := couponTemplate(t, `{"passTypeIdentifier": "pass.x", "eventTicket": {}}`)
	p := passData()
	p.Message = "Doors open at 8"
	field := at(t, render(t, tpl, p), "eventTicket", "backFields", 0).(map[string]any)
	if field["key"] != "message" || field["value"] != "Doors open at 8" || field["changeMessage"] != "%@" {
		t.Errorf("message field = %v", field)
	}
}

func TestRender_withoutAWebServiceThePassIsNotUpdatable(t *testing.T) {
	tpl := couponTemplate(t, `{"passTypeIdentifier": "pass.x", "webServiceURL": "https://elsewhere", "authenticationToken": "0123456789abcdef", "generic": {}}`)
	p := passData()
	p.WebServiceURL, p.AuthenticationToken = "", ""
	doc := render(t, tpl, p)
	for _, key := range []string{"webServiceURL", "authenticationToken"} {
		if v, ok := doc[key]; ok {
			t.Errorf("%s = %v, want it removed", key, v)
		}
	}
}

func TestRender_refusesIncompletePassData(t *testing.T) {
	tpl := couponTemplate(t, couponJSON)
	for name, change := range map[string]func(*PassData){
		"serial number": func(p *PassData) { p.SerialNumber = "" },
		"pass type":     func(p *PassData) { p.PassTypeIdentifier = "" },
		"team":          func(p *PassData) { p.TeamIdentifier = "" },
		"short token":   func(p *PassData) { p.AuthenticationToken = "short" },
		"token, no URL": func(p *PassData) { p.WebServiceURL = "" },
	} {
		t.Run(name, func(t *testing.T) {
			p := passData()
			change(&p)
			if _, err := Render(tpl, p); !errors.Is(err, ErrInvalidPassData) {
				t.Errorf("err = %v, want ErrInvalidPassData", err)
			}
		})
	}
}

func TestRender_doesNotChangeTheTemplate(t *testing.T) {
	tpl := couponTemplate(t, couponJSON)
	before := string(tpl.PassJSON())
	p := passData()
	p.Message = "x"
	if _, err := Render(tpl, p); err != nil {
		t.Fatal(err)
	}
	if string(tpl.PassJSON()) != before {
		t.Error("Render changed the template")
	}
}

func TestRender_refusesAZeroTemplate(t *testing.T) {
	if _, err := Render(Template{}, passData()); !errors.Is(err, ErrInvalidTemplate) {
		t.Errorf("err = %v, want ErrInvalidTemplate", err)
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(couponJSON), "brand", "Acme", "hello")
	f.Add([]byte(storeCardJSON), "balance", "12.5", "")
	f.Add([]byte(`{"passTypeIdentifier":"p","generic":{"backFields":[{"key":"message"},1,null]}}`), "message", "{{x}}", "m")
	f.Add([]byte(`{"generic":{"backFields":{}},"coupon":[]}`), "", "", "")
	f.Add([]byte(`[{"{{a}}":"{{a}}"}]`), "a", "}}{{", "{{")
	f.Add([]byte(`"{{"`), "", "", "")
	f.Fuzz(func(t *testing.T, passJSON []byte, key, value, message string) {
		p := passData()
		p.Data[key] = value
		p.Message = message
		// Render must stand any bytes, even those ParseTemplate refuses.
		out, err := Render(Template{passJSON: passJSON}, p)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not a JSON object: %v\n%s", err, out)
		}
		if doc["serialNumber"] != p.SerialNumber {
			t.Fatalf("serialNumber = %v", doc["serialNumber"])
		}
		if _, err := ParseTemplate(map[string][]byte{"pass.json": passJSON, "icon.png": nil}); err == nil {
			if _, err := ParseTemplate(map[string][]byte{"pass.json": out, "icon.png": nil}); err != nil {
				t.Fatalf("a rendered valid template is no longer valid: %v\n%s", err, out)
			}
		}
	})
}
