package query

// MaxPageLimit caps one page of any listing: passes found, audit events.
const MaxPageLimit = 1000
