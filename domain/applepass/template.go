// Package applepass holds the rules of an Apple Wallet pass: what a template must contain and how a pass's
// pass.json is made from its template and its data. It is pure Go: signing and packing the .pkpass live in
// adapters/apple.
package applepass

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// ErrInvalidTemplate is wrapped by every fault ParseTemplate finds.
var ErrInvalidTemplate = errors.New("invalid pass template")

// Styles are the pass.json keys that name a pass's style; a template has exactly one of them.
var Styles = []string{"storeCard", "coupon", "eventTicket", "boardingPass", "generic"}

// FieldLists are the arrays of field dictionaries inside a style.
var FieldLists = []string{"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields"}

const (
	passJSONName = "pass.json"
	iconName     = "icon.png"
)

// reserved names are made when a pass is built; a template that carries them (an unpacked .pkpass) drops them.
var reserved = map[string]bool{"manifest.json": true, "signature": true}

// TemplateFault is one fault of a template. Its message names the file and the field:
// "pass.json: passTypeIdentifier: missing".
type TemplateFault struct {
	File    string
	Field   string // empty when the fault is the file itself
	Problem string
}

func (f TemplateFault) Error() string {
	if f.Field == "" {
		return f.File + ": " + f.Problem
	}
	return f.File + ": " + f.Field + ": " + f.Problem
}

// Unwrap lets errors.Is(err, ErrInvalidTemplate) hold for every fault.
func (f TemplateFault) Unwrap() error { return ErrInvalidTemplate }

// Template is a pass template: its pass.json and its other files (images, *.lproj/ strings and images), by name.
// It is immutable once parsed: the accessors return copies or read-only views.
type Template struct {
	passJSON   []byte
	files      map[string][]byte // without pass.json
	digests    map[string]string // each file's SHA-1, hex: the manifest's entries, hashed once per template
	passTypeID string
	style      string
}

// ParseTemplate checks a template's files, named by their slash-separated path inside the template
// ("pass.json", "icon@2x.png", "fr.lproj/pass.strings"). It reports every fault it finds, each wrapping
// ErrInvalidTemplate (errors.As finds the first TemplateFault). Whether the passTypeIdentifier has a certificate
// is the caller's question: ask PassTypeIdentifier.
func ParseTemplate(files map[string][]byte) (Template, error) {
	var faults []error
	fault := func(file, field, format string, args ...any) {
		faults = append(faults, TemplateFault{File: file, Field: field, Problem: fmt.Sprintf(format, args...)})
	}

	t := Template{files: make(map[string][]byte, len(files))}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if problem := checkName(name); problem != "" {
			fault(name, "", "%s", problem)
			continue
		}
		if reserved[name] {
			continue
		}
		if name == passJSONName {
			t.passJSON = bytes.Clone(files[name])
			continue
		}
		t.files[name] = bytes.Clone(files[name])
	}

	if t.passJSON == nil {
		fault(passJSONName, "", "missing")
	} else {
		t.passTypeID, t.style = checkPassJSON(t.passJSON, fault)
	}
	if _, ok := t.files[iconName]; !ok {
		fault(iconName, "", "missing (every pass needs an icon)")
	}
	if len(faults) > 0 {
		return Template{}, errors.Join(faults...)
	}
	t.digests = make(map[string]string, len(t.files))
	for name, b := range t.files {
		sum := sha1.Sum(b)
		t.digests[name] = hex.EncodeToString(sum[:])
	}
	return t, nil
}

// checkName accepts "file" and "xx.lproj/file", nothing else.
func checkName(name string) string {
	switch {
	case name == "":
		return "empty file name"
	case strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || strings.Contains(name, ":"):
		return "file name must be a relative slash-separated path"
	case !fs.ValidPath(name):
		return "file name must stay inside the template (no '.', '..' or empty elements)"
	}
	dir, file, nested := strings.Cut(name, "/")
	if !nested {
		return ""
	}
	if !strings.HasSuffix(dir, ".lproj") || dir == ".lproj" || strings.Contains(file, "/") {
		return "only files at the top level and in *.lproj/ folders belong in a template"
	}
	return ""
}

func checkPassJSON(b []byte, fault func(file, field, format string, args ...any)) (passTypeID, style string) {
	doc, err := decodeJSON(b)
	if err != nil {
		fault(passJSONName, "", "invalid JSON: %v", err)
		return "", ""
	}
	root, ok := doc.(map[string]any)
	if !ok {
		fault(passJSONName, "", "must be a JSON object")
		return "", ""
	}

	switch v, ok := root["passTypeIdentifier"]; {
	case !ok:
		fault(passJSONName, "passTypeIdentifier", "missing")
	case !isNonEmptyString(v):
		fault(passJSONName, "passTypeIdentifier", "must be a non-empty string")
	default:
		passTypeID = v.(string)
	}

	var found []string
	for _, s := range Styles {
		if _, ok := root[s]; ok {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		fault(passJSONName, "style", "missing: want exactly one of %s", strings.Join(Styles, ", "))
	case 1:
		style = found[0]
		checkStyle(root[style], style, fault)
	default:
		fault(passJSONName, "style", "%s are all present: want exactly one", strings.Join(found, ", "))
	}
	return passTypeID, style
}

func checkStyle(v any, style string, fault func(file, field, format string, args ...any)) {
	obj, ok := v.(map[string]any)
	if !ok {
		fault(passJSONName, style, "must be an object")
		return
	}
	for _, list := range FieldLists {
		raw, ok := obj[list]
		if !ok {
			continue
		}
		fields, ok := raw.([]any)
		if !ok {
			fault(passJSONName, style+"."+list, "must be an array of field dictionaries")
			continue
		}
		for i, f := range fields {
			field, ok := f.(map[string]any)
			if !ok {
				fault(passJSONName, fmt.Sprintf("%s.%s[%d]", style, list, i), "must be a field dictionary")
				continue
			}
			if !isNonEmptyString(field["key"]) {
				fault(passJSONName, fmt.Sprintf("%s.%s[%d].key", style, list, i), "must be a non-empty string")
			}
		}
	}
}

// decodeJSON decodes one JSON value, keeping numbers as json.Number so that they come out as they went in.
func decodeJSON(b []byte) (any, error) {
	if !json.Valid(b) {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return nil, errors.New("not valid JSON")
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func isNonEmptyString(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// PassTypeIdentifier is the template's passTypeIdentifier: the caller checks that it has a certificate.
func (t Template) PassTypeIdentifier() string { return t.passTypeID }

// Style is the template's style key: storeCard, coupon, eventTicket, boardingPass or generic.
func (t Template) Style() string { return t.style }

// PassJSON returns a copy of the template's pass.json.
func (t Template) PassJSON() []byte { return bytes.Clone(t.passJSON) }

// FileNames lists the template's files other than pass.json, sorted.
func (t Template) FileNames() []string { return slices.Sorted(maps.Keys(t.files)) }

// File returns one of the template's files other than pass.json. The bytes are shared: don't modify them.
func (t Template) File(name string) ([]byte, bool) {
	b, ok := t.files[name]
	return b, ok
}

// FileSHA1 returns the SHA-1, in hex, of one of the template's files other than pass.json: its entry in a pass's
// manifest.json, which every pass of the template shares.
func (t Template) FileSHA1(name string) (string, bool) {
	if d, ok := t.digests[name]; ok {
		return d, true
	}
	b, ok := t.files[name]
	if !ok {
		return "", false
	}
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:]), true
}

// Size is the template's bytes: its files, pass.json included.
func (t Template) Size() int {
	n := len(t.passJSON)
	for _, b := range t.files {
		n += len(b)
	}
	return n
}

// Files returns every file of the template, pass.json included, in a new map whose values are shared.
func (t Template) Files() map[string][]byte {
	out := make(map[string][]byte, len(t.files)+1)
	maps.Copy(out, t.files)
	if t.passJSON != nil {
		out[passJSONName] = t.passJSON
	}
	return out
}
