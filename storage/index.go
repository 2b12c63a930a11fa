package storage

// IndexEntry is one search-index value of a resource, computed at write
// time from a search parameter's FHIRPath expression (see Extract) and
// stored with the current version so that every search is an index lookup.
// Only the fields of the parameter's type are set.
type IndexEntry struct {
	// Param is the search parameter's code ("code", "subject", "_tag").
	Param string
	// Type is the parameter's type (conformance.ParamToken, ...).
	Type string

	// string: Norm is lower-cased with accents removed (default and
	// :contains matching); Exact is the text as written (:exact).
	// uri: Exact holds the URI.
	Norm, Exact string

	// token: System and Code ("" when absent); Text is the normalized
	// display/text for :text. For Identifier, TypeSystem/TypeCode carry
	// Identifier.type's codings (one entry per coding) for :of-type.
	// quantity: System and Code are the unit's.
	System, Code, Text   string
	TypeSystem, TypeCode string

	// reference: RefType/RefID for a relative (or resolvable absolute)
	// reference "Type/id"; URL for an absolute or canonical reference as
	// written; System/Code for Reference.identifier (:identifier).
	RefType, RefID, URL string

	// date: the value's range [Start, End) in microseconds since the Unix
	// epoch, UTC. An open Period end is MaxTime, an open start MinTime.
	Start, End int64

	// number and quantity: the value as written and its precision range
	// [Low, High) ("100" → [99.5, 100.5)). For UCUM quantities Canonical*
	// hold the value converted to the canonical unit when known (e.g. g for
	// kg) so that equal quantities in different units compare.
	Number, Low, High float64
	CanonicalNumber   float64
	CanonicalCode     string

	// composite: the component values of one element (one entry per
	// combination), in the parameter's component order.
	Components []IndexEntry
}

// MinTime and MaxTime bound open date ranges in IndexEntry.Start/End.
const (
	MinTime int64 = -1 << 62
	MaxTime int64 = 1 << 62
)
