package search

import (
	"github.com/medbridge/medbridge/conformance"
)

// Query is a parsed search request: what ParseQuery makes of
// GET /fhir/Observation?code=...&date=ge2026 (and of the other places
// searches come from). Stores execute it; it holds no store concepts.
type Query struct {
	// Types are the resource types searched: one for a type search, the
	// _type list (or none: every type) for a system search.
	Types []string
	// System is set for a system search (ParseQuery without types, or
	// with the types of a _type that the caller read itself): its Types
	// came from _type, and Encode renders them as _type again.
	System bool
	// Filters are ANDed; each is one parameter occurrence whose values are ORed.
	// ParseQuery orders them by parameter name, then as given.
	Filters []Filter
	// Sort keys in order; empty means the default order (resource id).
	Sort []SortKey
	// Count is the page size; 0 with Summary "count" means no entries.
	Count int
	// Total is "none", "estimate" or "accurate".
	Total string
	// Summary is _summary (true, text, data, count, false or "").
	Summary string
	// Elements is _elements.
	Elements []string
	// Include and RevInclude are _include and _revinclude.
	Include, RevInclude []Include
	// After and Before continue from a previous page: the opaque cursors a
	// store returned as a page's Next or Prev. At most one is set.
	After, Before string
	// Unknown lists parameters that were ignored (lenient handling); the
	// server reports them in an OperationOutcome entry.
	Unknown []string
}

// Filter is one search parameter with its values (ORed).
type Filter struct {
	// Param is the parameter as defined for the searched type; for a
	// chained filter it is the first link's reference parameter. When
	// several types are searched (_type), it is the first type's
	// definition; the parameter exists on every one of them with the same
	// code. Nil for _has.
	Param *conformance.SearchParam
	// Modifier is the text after ':' (exact, contains, text, not, above,
	// below, in, not-in, of-type, identifier, missing) or a type for a
	// reference (":Patient"); "" when none.
	Modifier string
	// Chain, when set, applies the rest of the filter to the resources
	// Param references: subject:Patient.name=x has Param=subject,
	// Modifier="Patient", Chain={name filter on Patient}.
	Chain *Filter
	// ChainType is the target type the chain continues in.
	ChainType string
	// Or, when set, replaces Chain, Has and Values: the filter matches when
	// any of Or matches. ParseQuery uses it only for a chain without a type
	// through a reference with several target types on which the rest of
	// the chain exists (patient.identifier on Observation: one alternative
	// with ChainType Patient, one with Group); every alternative has the
	// same Param. The server also uses it for compartment searches, whose
	// alternatives have different Params (Observation in Patient/1:
	// subject=Patient/1 OR performer=Patient/1).
	Or []Filter
	// Has, when set, is a reverse chain (_has:Observation:patient:code=x):
	// matching resources are those referenced by a resource of Has.Type via
	// Has.Param whose own Has.Filter matches.
	Has *Has
	// Missing is set for :missing (true: no value, false: some value);
	// Modifier is then "missing".
	Missing *bool
	// Values are ORed. Empty for :missing and for chains/_has (whose values
	// sit in the innermost filter).
	Values []Value
}

// Has is a reverse-chain link.
type Has struct {
	Type   string                   // the referring type (Observation)
	Param  *conformance.SearchParam // its reference parameter (patient)
	Filter Filter                   // the condition on the referring resource
}

// Prefix is a comparison prefix of number, date and quantity values.
type Prefix string

const (
	Eq Prefix = "eq"
	Ne Prefix = "ne"
	Gt Prefix = "gt"
	Lt Prefix = "lt"
	Ge Prefix = "ge"
	Le Prefix = "le"
	Sa Prefix = "sa"
	Eb Prefix = "eb"
	Ap Prefix = "ap"
)

// Value is one search value, typed by the parameter it belongs to. Only the
// fields of that type are set.
type Value struct {
	// Prefix is for number, date, quantity. ParseQuery always sets it (Eq
	// when the value has none); "" also means eq.
	Prefix Prefix

	// string, uri: the raw (unescaped) text. number, quantity: the number
	// as written ("100.00", "1e2"), which carries its precision.
	String string

	// token: System is nil for "code" (any system), "" for "|code" (no
	// system); Code "" with System set means "system|" (any code).
	// For :of-type, System/Code are the type coding and Value the
	// identifier value; for :text, String holds the text; for :in and
	// :not-in, URL holds the ValueSet's canonical (see ExpandValueSet).
	System *string
	Code   string
	Value  string

	// reference: Type and ID for "Type/id" or "id" (Type "", or the
	// :Type modifier's type), URL for an absolute reference or canonical,
	// Version for a canonical's "|version"; for :identifier System/Code
	// hold the identifier's system and value.
	RefType, RefID, URL string
	Version             string

	// number, quantity: the value and its implicit precision range
	// [Low, High) (100 → [99.5, 100.5)). Quantity also has System/Code
	// (UCUM unit or other) in System and Code.
	Number    float64
	Low, High float64

	// date: the range the value's precision implies.
	Date DateRange

	// composite: one value per component, in definition order.
	Components []Value
}

// SortKey is one _sort key.
type SortKey struct {
	Param      *conformance.SearchParam
	Descending bool
}

// Include is one _include / _revinclude: SourceType:Param[:TargetType],
// Iterate for :iterate; Param nil for "*".
type Include struct {
	SourceType string
	Param      *conformance.SearchParam
	TargetType string
	Iterate    bool
}

// DefaultCount and MaxCount bound _count.
const (
	DefaultCount = 20
	MaxCount     = 1000
)
