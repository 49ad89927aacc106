package auditrow

// A row stores the type of an event of a known type as a one-byte code (two bytes of text, where the name takes
// 15 to 20): the audit log keeps a row per event for good, and the type was a tenth of it. Any other type is
// stored as its name. The column stays text on both back ends, so that an unknown type needs no table of its own
// and a row written before the codes still reads as it is.
//
// The codes are control characters, which no event type's name is. Never change or reuse a code: rows keep it
// for as long as the log keeps them. A new type takes the next one (knownTypes only grows); until it has one, its
// rows hold its name, which reads as well.
var knownTypes = []string{
	"PassRegistered",
	"PassDataChanged",
	"PassUpdateScheduled",
	"PushUpdateEmitted",
	"PushUpdateFailed",
	"DeliveryRedriven",
	"DeviceRegistered",
	"DeviceUnregistered",
	"TenantCreated",
	"TenantChanged",
	"TenantAPIKeyCreated",
	"TenantAPIKeyRevoked",
	"ActivitySaved",
	"ActivityValidated",
	"ActivityPublished",
	"ActivityStopped",
	"ActivityUnpublished",
	"PassCheckDecided",
}

// firstTypeCode is the code of knownTypes[0]; the next types take the next bytes, up to 0x1f.
const firstTypeCode = 0x01

var typeCodes = func() map[string]string {
	codes := make(map[string]string, len(knownTypes))
	for i, name := range knownTypes {
		codes[name] = string(rune(firstTypeCode + i))
	}
	return codes
}()

// StoredType is how a row stores an event's type: its code, or the name itself when it has none.
func StoredType(name string) string {
	if code, ok := typeCodes[name]; ok {
		return code
	}
	return name
}

// TypeOf is the event type a row's stored type stands for.
func TypeOf(stored string) string {
	if len(stored) == 1 {
		if i := int(stored[0]) - firstTypeCode; i >= 0 && i < len(knownTypes) {
			return knownTypes[i]
		}
	}
	return stored
}

// TypeCodes are the names that have a code, with it, for a migration to rewrite the rows written before.
func TypeCodes() map[string]string {
	out := make(map[string]string, len(typeCodes))
	for name, code := range typeCodes {
		out[name] = code
	}
	return out
}
