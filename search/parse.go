package search

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

// Options control ParseQuery.
type Options struct {
	// Strict is "Prefer: handling=strict": unknown and unsupported
	// parameters and modifiers are errors instead of being listed in
	// Query.Unknown.
	Strict bool
	// DefaultCount is the page size without _count, MaxCount the largest
	// page; 0 means the package's DefaultCount and MaxCount.
	DefaultCount, MaxCount int
	// BaseURL, when set, is the server's base ("https://example.org/fhir"):
	// an absolute reference under it is read as the relative "Type/id".
	BaseURL string
}

func (o Options) counts() (def, max int) {
	def, max = o.DefaultCount, o.MaxCount
	if max <= 0 {
		max = MaxCount
	}
	if def <= 0 {
		def = DefaultCount
	}
	return min(def, max), max
}

// ParseQuery parses the parameters of a search into a Query. types is the
// one type of a type search, or nil for a system search, whose types come
// from _type (none: every type). A caller that has read _type itself may
// pass its types; _type must then name the same ones. It touches no store.
//
// A client mistake is a *fhir.Error with status 400 whose expression names
// the parameter as given. Values that do not parse (a bad date, prefix or
// number, an unknown ValueSet, _sort by a parameter some type lacks) are
// always errors. Parameter names and modifiers that are unknown or not
// supported are errors with opts.Strict, and otherwise listed in
// Query.Unknown and ignored. _format and _pretty are the server's and are
// ignored here. Parameters with an empty value are ignored.
func ParseQuery(spec *conformance.Spec, types []string, params url.Values, opts Options) (*Query, error) {
	p := &parser{spec: spec, opts: opts, params: map[string]map[string]*conformance.SearchParam{}}
	def, _ := opts.counts()
	q := &Query{Count: def}
	if len(types) == 0 {
		q.System = true
		if err := p.parseTypes(q, params["_type"]); err != nil {
			return nil, err
		}
	} else {
		for _, t := range types {
			if !spec.IsResourceType(t) {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported, "%q is not a resource type", t)
			}
		}
		q.Types = slices.Clone(types)
		if err := p.checkTypes(q, params["_type"]); err != nil {
			return nil, err
		}
	}

	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if err := p.parseParam(q, key, params[key]); err != nil {
			var unknown *unknownError
			if !errors.As(err, &unknown) {
				return nil, err
			}
			if opts.Strict {
				return nil, fhir.Errorf(http.StatusBadRequest, fhir.CodeNotSupported,
					"unknown or unsupported search parameter %q: %s", key, unknown.reason).At(key)
			}
			q.Unknown = append(q.Unknown, key)
		}
	}
	if q.After != "" && q.Before != "" {
		return nil, invalid("_page_before", "_page_token and _page_before cannot be combined")
	}
	if q.Summary == "count" {
		q.Count = 0
	}
	return q, nil
}

// parseParam adds one parameter, with all its occurrences, to q. It
// returns an *unknownError for a name it does not support.
func (p *parser) parseParam(q *Query, key string, values []string) error {
	name, mod, hasMod := strings.Cut(key, ":")
	if !strings.HasPrefix(name, "_") || name == "_has" || p.lookup(q.Types, name) != nil {
		return p.parseFilters(q, key, values)
	}
	if hasMod && name != "_include" && name != "_revinclude" {
		return unknownf("%s takes no modifier", name)
	}
	switch name {
	case "_type":
		return nil // parsed first, by ParseQuery
	case "_format", "_pretty":
		return nil
	case "_sort":
		return p.parseSort(q, values)
	case "_count":
		return p.parseCount(q, values)
	case "_total":
		return parseChoice(&q.Total, "_total", values, "none", "estimate", "accurate")
	case "_summary":
		return parseChoice(&q.Summary, "_summary", values, "true", "text", "data", "count", "false")
	case "_elements":
		return parseElements(q, values)
	case "_page_token":
		return parseSingle(&q.After, "_page_token", values)
	case "_page_before":
		return parseSingle(&q.Before, "_page_before", values)
	case "_include", "_revinclude":
		return p.parseIncludes(q, key, mod, values)
	}
	return unknownf("%s is not supported", name)
}

// parseFilters adds one filter per non-empty occurrence of key.
func (p *parser) parseFilters(q *Query, key string, values []string) error {
	for _, raw := range values {
		f, err := p.parseFilter(q.Types, key, raw)
		if err != nil {
			var verr *valueError
			if errors.As(err, &verr) {
				return invalid(key, "invalid value %q of %s: %s", raw, key, verr.msg)
			}
			return err
		}
		if f != nil {
			q.Filters = append(q.Filters, *f)
		}
	}
	return nil
}

// parser holds the spec and caches each type's parameters.
type parser struct {
	spec   *conformance.Spec
	opts   Options
	params map[string]map[string]*conformance.SearchParam // type → code → param
}

// paramsOf returns the parameters of typ, or for "" the common ones
// (those of Resource), which apply to every type.
func (p *parser) paramsOf(typ string) map[string]*conformance.SearchParam {
	if ps, ok := p.params[typ]; ok {
		return ps
	}
	var ps map[string]*conformance.SearchParam
	if typ == "" {
		all, _ := p.spec.SearchParams("Resource")
		ps = map[string]*conformance.SearchParam{}
		for code, sp := range all {
			if sp.Base == "Resource" {
				ps[code] = sp
			}
		}
	} else {
		ps, _ = p.spec.SearchParams(typ)
	}
	p.params[typ] = ps
	return ps
}

// lookup returns the parameter code of the first of types if every one
// of them has it (no types: a common parameter), or nil.
func (p *parser) lookup(types []string, code string) *conformance.SearchParam {
	if len(types) == 0 {
		return p.paramsOf("")[code]
	}
	var first *conformance.SearchParam
	for _, t := range types {
		sp := p.paramsOf(t)[code]
		if sp == nil {
			return nil
		}
		if first == nil {
			first = sp
		}
	}
	return first
}
