package pass

import (
	"fmt"
	"strings"
)

// The caps on a pass's data. They bound what one pass costs everywhere it goes (the event store, the read
// model, each delivery's row and webhook body, the wallet's pass), so a caller cannot make one pass as large as
// the request body allows, and the webhook of each update carries the whole data. They hold for every way data
// reaches a pass: registration (PUT, import) and journey updates, which merge fields into the data.
const (
	MaxFields          = 100
	MaxFieldNameBytes  = 64
	MaxFieldValueBytes = 2 << 10
)

// validateFields checks a pass's data, or an update's fields: the caps, names that are not blank, and no NUL.
// Each refusal names the cap it breaks.
func validateFields(fields map[string]string) error {
	if len(fields) > MaxFields {
		return fmt.Errorf("%w: data has %d fields, more than the limit of %d fields", ErrInvalid, len(fields), MaxFields)
	}
	for k, v := range fields {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("%w: a field name is empty", ErrInvalid)
		}
		if len(k) > MaxFieldNameBytes {
			return fmt.Errorf("%w: field name %q is %d bytes, more than the limit of %d bytes", ErrInvalid,
				k[:MaxFieldNameBytes]+"…", len(k), MaxFieldNameBytes)
		}
		if len(v) > MaxFieldValueBytes {
			return fmt.Errorf("%w: the value of field %q is %d bytes, more than the limit of %d bytes (2 KiB)",
				ErrInvalid, k, len(v), MaxFieldValueBytes)
		}
		if err := ValidateText(k, v); err != nil {
			return err
		}
	}
	return nil
}
