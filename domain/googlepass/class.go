// Package googlepass holds the rules of Google Wallet passes: a tenant's classes (one per pass type, with the
// template of its objects), and the object built from a class and a pass. It does no I/O.
package googlepass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalidClass is wrapped by every refusal of a class.
var ErrInvalidClass = errors.New("invalid google class")

// ObjectTypes are the kinds of Google Wallet objects a class may make, as passpush names them. The Wallet API's
// resource is the name with "Object" after it (loyaltyObject), and a save link's payload key has "Objects".
var ObjectTypes = []string{"generic", "loyalty", "offer", "giftCard", "eventTicket"}

// MaxTemplateSize bounds a class's template, in bytes of JSON.
const MaxTemplateSize = 256 << 10

// idSuffixPattern is what Google allows after "issuerId." in a class or object id.
var idSuffixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Class is a tenant's Google Wallet class for one pass type: the type of the objects it makes, the class's id in
// the Wallet API, and the template of its objects.
type Class struct {
	// IssuerID is the tenant's issuer, from its Google settings; the objects' ids start with it.
	IssuerID   string
	ObjectType string
	ClassID    string
	// Template is the JSON object every object of the class starts from, without id and classId.
	Template json.RawMessage
}

// IsObjectType reports whether t is one of ObjectTypes.
func IsObjectType(t string) bool { return slices.Contains(ObjectTypes, t) }

// Resource is the Wallet API's name of the class's objects: "loyaltyObject".
func (c Class) Resource() string { return c.ObjectType + "Object" }

// PayloadKey is the key of a save link's payload that lists objects of the class: "loyaltyObjects".
func (c Class) PayloadKey() string { return c.ObjectType + "Objects" }

// Check reports what is wrong with the class: an unknown object type, a class id that is not the issuer's id, a
// dot and a suffix of letters, digits, '.', '_' or '-', or a template that is not a JSON object or has an id or a
// classId (passpush sets both). Refusals wrap ErrInvalidClass.
func (c Class) Check() error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidClass}, args...)...)
	}
	if !IsObjectType(c.ObjectType) {
		return refuse("objectType %q: want one of %s", c.ObjectType, strings.Join(ObjectTypes, ", "))
	}
	if c.IssuerID == "" {
		return refuse("the tenant has no issuer: set its Google settings first")
	}
	suffix, ok := strings.CutPrefix(c.ClassID, c.IssuerID+".")
	if !ok {
		return refuse("classId %q must start with the tenant's issuer id and a dot: %s.SUFFIX", c.ClassID, c.IssuerID)
	}
	if !idSuffixPattern.MatchString(suffix) {
		return refuse("classId %q: after %s. only letters, digits, '.', '_' and '-' are allowed", c.ClassID, c.IssuerID)
	}
	if len(c.Template) > MaxTemplateSize {
		return refuse("template: larger than %d bytes", MaxTemplateSize)
	}
	root, err := decodeTemplate(c.Template)
	if err != nil {
		return refuse("template: %s", err)
	}
	for _, key := range []string{"id", "classId"} {
		if _, ok := root[key]; ok {
			return refuse("template: must not have %q: passpush sets it", key)
		}
	}
	return nil
}

// decodeTemplate reads a template as a JSON object, numbers kept as they are written.
func decodeTemplate(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid JSON: data after the value")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return root, nil
}
