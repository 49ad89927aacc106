package query

// MaxPageLimit caps one page of any listing: passes found, audit events.
const MaxPageLimit = 1000

// DefaultPageLimit is the size of a page when the caller asks for none.
const DefaultPageLimit = 100

// pageLimit is the page size a listing uses for the limit asked: the default when none or too many are asked.
func pageLimit(asked int) int {
	if asked <= 0 || asked > MaxPageLimit {
		return DefaultPageLimit
	}
	return asked
}
