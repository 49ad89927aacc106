package googlepass

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Pass is what a pass brings to its object: its ids and its data, as the passes read model shows them.
type Pass struct {
	TenantID string
	ID       string
	Email    string
	CustomID string
	// Data are the pass's fields by name.
	Data map[string]string
}

// ObjectID is the id of a pass's object: "{issuerId}.{tenantId}_{passId}", with every character of the part after
// the issuer's dot that is not a letter, digit, '.', '_' or '-' replaced by '_'. It never changes for a pass.
func ObjectID(issuerID, tenantID, passID string) string {
	return sanitize(issuerID + "." + tenantID + "_" + passID)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '_'
		}
	}, s)
}

// BuildObject makes the pass's object of the class, as the Wallet API and a save link take it:
//   - {{name}} in any string of the template (nested or not; spaces around the name allowed) becomes the pass's
//     data value of that name; passId, email and customId are always known and are the pass's own; an unknown
//     name becomes the empty string, and a "{{" without its "}}" is left as it is;
//   - every data key that no placeholder names becomes a textModulesData entry
//     {"id": key, "header": key, "body": value}, in key order after the template's entries; an entry of the
//     template with the same id is replaced in place;
//   - id is ObjectID(class.IssuerID, p.TenantID, p.ID), and classId the class's.
//
// Data values are put in after the placeholders are replaced, so a value is never read as a template. The
// template's other keys are kept, numbers as they are written.
func BuildObject(class Class, p Pass) (map[string]any, error) {
	if err := class.Check(); err != nil {
		return nil, err
	}
	if p.TenantID == "" || p.ID == "" {
		return nil, fmt.Errorf("build google object: the pass's tenant and id are required")
	}
	root, err := decodeTemplate(class.Template)
	if err != nil {
		return nil, fmt.Errorf("%w: template: %s", ErrInvalidClass, err)
	}
	used := map[string]bool{}
	walkStrings(root, func(s string) { placeholders(s, func(name string) { used[name] = true }) })

	values := make(map[string]string, len(p.Data)+3)
	maps.Copy(values, p.Data)
	values["passId"], values["email"], values["customId"] = p.ID, p.Email, p.CustomID
	root = substitute(root, values).(map[string]any)

	var unused []string
	for k := range p.Data {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		root["textModulesData"] = textModules(root["textModulesData"], unused, p.Data)
	}
	root["id"] = ObjectID(class.IssuerID, p.TenantID, p.ID)
	root["classId"] = class.ClassID
	return root, nil
}

// textModules puts one entry per key into the template's list: in place of the template's entry of that id, or
// after the list. A template value that is not a list is replaced.
func textModules(template any, keys []string, data map[string]string) []any {
	list, _ := template.([]any)
	out := slices.Clone(list)
	at := map[string]int{}
	for i, e := range out {
		if m, ok := e.(map[string]any); ok {
			if id, ok := m["id"].(string); ok {
				if _, seen := at[id]; !seen {
					at[id] = i
				}
			}
		}
	}
	for _, k := range keys {
		entry := map[string]any{"id": k, "header": k, "body": data[k]}
		if i, ok := at[k]; ok {
			out[i] = entry
			continue
		}
		out = append(out, entry)
	}
	return out
}

// walkStrings calls f with every string value under v (not the keys).
func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case map[string]any:
		for _, e := range v {
			walkStrings(e, f)
		}
	case []any:
		for _, e := range v {
			walkStrings(e, f)
		}
	}
}

// substitute replaces the placeholders of every string value under v, in place for maps and slices.
func substitute(v any, values map[string]string) any {
	switch v := v.(type) {
	case string:
		return replace(v, values)
	case map[string]any:
		for k, e := range v {
			v[k] = substitute(e, values)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = substitute(e, values)
		}
		return v
	default:
		return v
	}
}

// placeholders calls f with the name of each placeholder in s, as replace finds them.
func placeholders(s string, f func(name string)) {
	scan(s, func(literal string) {}, f)
}

// replace turns "{{name}}" (spaces around the name allowed) into values[name], or "" for an unknown name. A "{{"
// with no "}}" after it, or with a brace inside, is left as it is. These are the Apple templates' rules
// (domain/applepass).
func replace(s string, values map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	scan(s, func(literal string) { b.WriteString(literal) }, func(name string) { b.WriteString(values[name]) })
	return b.String()
}

// scan splits s into literal text and placeholder names, in order.
func scan(s string, literal func(string), placeholder func(name string)) {
	i := strings.Index(s, "{{")
	for i >= 0 {
		literal(s[:i])
		rest := s[i+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			literal(s[i:])
			return
		}
		name := rest[:end]
		if strings.ContainsAny(name, "{}") {
			literal("{")
			s = s[i+1:]
		} else {
			placeholder(strings.TrimSpace(name))
			s = rest[end+2:]
		}
		i = strings.Index(s, "{{")
	}
	literal(s)
}
