package httpport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/passpush/passpush/ports/http/httperr"
)

// decodeJSON reads one JSON value into v. Malformed JSON is a 400; a body over the route's limit keeps its
// *http.MaxBytesError, which answers 413.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if isTooLarge(err) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return httperr.BadRequest("the request body is empty; it must be a JSON object")
		}
		return httperr.BadRequest("malformed JSON: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if isTooLarge(err) {
			return err
		}
		return httperr.BadRequest("malformed JSON: unexpected data after the object")
	}
	return nil
}

// isTooLarge reports whether reading the body failed on the route's limit; that error answers 413.
func isTooLarge(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

// fieldValues is a pass's data: field name to text. Numbers and booleans are taken as their text, because the
// systems that feed passes (CSV exports, SFMC data extensions) often send a balance as a number.
type fieldValues map[string]string

func (f *fieldValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("data must be an object of field names to values")
	}
	out := make(fieldValues, len(raw))
	for k, v := range raw {
		var value flexString
		if err := json.Unmarshal(v, &value); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return fmt.Errorf("data field %q must be a string, number or boolean", k)
		}
		out[k] = string(value)
	}
	*f = out
	return nil
}

// flexString takes a JSON string, number or boolean as text; null is empty.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexString(n.String())
		return nil
	}
	var bl bool
	if err := json.Unmarshal(b, &bl); err == nil {
		*f = flexString(strconv.FormatBool(bl))
		return nil
	}
	return fmt.Errorf("want a string, number or boolean, got %s", truncate(b, 40))
}

// flexBool takes true/false or the strings "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var bl bool
	if err := json.Unmarshal(b, &bl); err == nil {
		*f = flexBool(bl)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if v, err := strconv.ParseBool(s); err == nil {
			*f = flexBool(v)
			return nil
		}
	}
	return fmt.Errorf("want a boolean, got %s", truncate(b, 40))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
