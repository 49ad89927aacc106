package applepass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidPassData is wrapped by Render's refusals of the pass's own data (not the template's).
var ErrInvalidPassData = errors.New("invalid pass data")

// MessageFieldKey is the key of the back field that carries an update's message.
const MessageFieldKey = "message"

// MinAuthenticationTokenLength is Apple's minimum length of a pass's authenticationToken.
const MinAuthenticationTokenLength = 16

// PassData is what a pass adds to its template.
type PassData struct {
	SerialNumber        string // the passId
	PassTypeIdentifier  string // from the certificate
	TeamIdentifier      string // from the certificate
	WebServiceURL       string // PASSPUSH_PUBLIC_URL + /api/{tenantId}/apple
	AuthenticationToken string // made once per pass
	// Data are the pass's values by name: passId, email and customId when known, and the fields of its updates.
	Data map[string]string
	// Message, when not empty, goes into the back field "message" with "changeMessage": "%@", so that Wallet
	// shows it on the lock screen when it changes.
	Message string
}

// Render makes a pass's pass.json from its template and its data:
//   - {{name}} in any string value of the template's pass.json (labels, description, logoText, barcode messages,
//     nested or not) becomes the data value of that name; an unknown name becomes the empty string, and
//     {{passId}} is the serial number when Data has no passId;
//   - every field dictionary of the style's header, primary, secondary, auxiliary and back fields whose key is a
//     data key takes that value as its value (a number when the template's value is a number and the data value
//     reads as one, so that currencyCode and numberStyle keep working);
//   - a non-empty Message goes into the back field "message", with "changeMessage": "%@"; the field is added when
//     the template has none, and an existing one keeps its other attributes;
//   - serialNumber, passTypeIdentifier, teamIdentifier, webServiceURL and authenticationToken are set from p.
//
// Values are put in after the placeholders are replaced, so a data value is never read as a template. Keys of the
// template that Render does not know are kept; the output's keys are sorted.
func Render(t Template, p PassData) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	doc, err := decodeJSON(t.passJSON)
	if err != nil {
		return nil, TemplateFault{File: passJSONName, Problem: "invalid JSON: " + err.Error()}
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, TemplateFault{File: passJSONName, Problem: "must be a JSON object"}
	}
	r := renderer{data: p.Data, serial: p.SerialNumber}
	root = r.substitute(root).(map[string]any)

	style, ok := styleOf(root)
	if !ok {
		return nil, TemplateFault{File: passJSONName, Field: "style", Problem: "want exactly one of " + strings.Join(Styles, ", ")}
	}
	fields, ok := root[style].(map[string]any)
	if !ok {
		return nil, TemplateFault{File: passJSONName, Field: style, Problem: "must be an object"}
	}
	for _, list := range FieldLists {
		for _, f := range fieldDicts(fields[list]) {
			key, _ := f["key"].(string)
			if v, ok := p.Data[key]; ok && key != "" {
				f["value"] = fieldValue(f["value"], f, v)
			}
		}
	}
	if p.Message != "" {
		setMessage(fields, p.Message)
	}

	root["serialNumber"] = p.SerialNumber
	root["passTypeIdentifier"] = p.PassTypeIdentifier
	root["teamIdentifier"] = p.TeamIdentifier
	if p.WebServiceURL != "" {
		root["webServiceURL"] = p.WebServiceURL
		root["authenticationToken"] = p.AuthenticationToken
	} else {
		delete(root, "webServiceURL")
		delete(root, "authenticationToken")
	}

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("pass.json: encode: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func (p PassData) check() error {
	missing := func(name string) error { return fmt.Errorf("%w: %s: missing", ErrInvalidPassData, name) }
	switch {
	case p.SerialNumber == "":
		return missing("serialNumber")
	case p.PassTypeIdentifier == "":
		return missing("passTypeIdentifier")
	case p.TeamIdentifier == "":
		return missing("teamIdentifier")
	case p.WebServiceURL != "" && len(p.AuthenticationToken) < MinAuthenticationTokenLength:
		return fmt.Errorf("%w: authenticationToken: must have at least %d characters when webServiceURL is set",
			ErrInvalidPassData, MinAuthenticationTokenLength)
	case p.WebServiceURL == "" && p.AuthenticationToken != "":
		return missing("webServiceURL (authenticationToken is set)")
	}
	return nil
}

func styleOf(root map[string]any) (string, bool) {
	found := ""
	for _, s := range Styles {
		if _, ok := root[s]; ok {
			if found != "" {
				return "", false
			}
			found = s
		}
	}
	return found, found != ""
}

// fieldDicts returns the field dictionaries of one field list, skipping anything that is not one.
func fieldDicts(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, f := range list {
		if d, ok := f.(map[string]any); ok {
			out = append(out, d)
		}
	}
	return out
}

// fieldValue keeps a number a number when the data value reads as one: Wallet formats currencyCode and
// numberStyle fields only from numbers.
func fieldValue(old any, field map[string]any, v string) any {
	_, wasNumber := old.(json.Number)
	_, hasCurrency := field["currencyCode"]
	_, hasNumberStyle := field["numberStyle"]
	if wasNumber || hasCurrency || hasNumberStyle {
		if _, err := strconv.ParseFloat(v, 64); err == nil && json.Valid([]byte(v)) {
			return json.Number(v)
		}
	}
	return v
}

func setMessage(style map[string]any, message string) {
	back, _ := style["backFields"].([]any)
	for _, f := range back {
		if d, ok := f.(map[string]any); ok && d["key"] == MessageFieldKey {
			d["value"] = message
			d["changeMessage"] = "%@"
			return
		}
	}
	style["backFields"] = append(back, map[string]any{
		"key":           MessageFieldKey,
		"value":         message,
		"changeMessage": "%@",
	})
}

type renderer struct {
	data   map[string]string
	serial string
}

// substitute replaces the placeholders of every string value under v, in place for maps and slices.
func (r renderer) substitute(v any) any {
	switch v := v.(type) {
	case string:
		return r.replace(v)
	case map[string]any:
		for k, e := range v {
			v[k] = r.substitute(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = r.substitute(e)
		}
		return v
	default:
		return v
	}
}

func (r renderer) lookup(name string) string {
	if v, ok := r.data[name]; ok {
		return v
	}
	if name == "passId" {
		return r.serial
	}
	return ""
}

// replace turns "{{name}}" (spaces around the name allowed) into the data value of name. A "{{" with no "}}"
// after it, or with a brace inside, is left as it is.
func (r renderer) replace(s string) string {
	i := strings.Index(s, "{{")
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		name := rest[:end]
		if strings.ContainsAny(name, "{}") {
			b.WriteString("{")
			s = s[i+1:]
		} else {
			b.WriteString(r.lookup(strings.TrimSpace(name)))
			s = rest[end+2:]
		}
		i = strings.Index(s, "{{")
	}
	b.WriteString(s)
	return b.String()
}
