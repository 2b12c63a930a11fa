package search

import (
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// parseReferenceValue parses a reference parameter's value: "id",
// "Type/id" (a version, "Type/id/_history/v", is dropped), an absolute URL
// (read as "Type/id" under Options.BaseURL), a canonical "url|version", or
// system|value for :identifier. A type, in the value or as the :Type
// modifier, must be one of the parameter's targets; with the modifier the
// value's RefType is that type.
func (p *parser) parseReferenceValue(param *conformance.SearchParam, mod, item string) (Value, error) {
	if mod == "identifier" {
		return parseCoding(item)
	}
	typeMod := ""
	if mod != "" && mod != "missing" {
		typeMod = mod
	}
	parts := splitEscaped(item, '|')
	switch {
	case len(parts) > 2:
		return Value{}, valuef("a canonical reference has at most one unescaped |")
	case len(parts) == 2:
		if parts[0] == "" {
			return Value{}, valuef("a canonical reference needs a URL before |")
		}
		return Value{URL: unescape(parts[0]), Version: unescape(parts[1])}, nil
	}
	s := unescape(item)
	if isAbsolute(s) {
		base := strings.TrimSuffix(p.opts.BaseURL, "/")
		rel, ok := strings.CutPrefix(s, base+"/")
		if base == "" || !ok {
			return Value{URL: s}, nil
		}
		s = rel
	}
	if !strings.Contains(s, "/") {
		return Value{RefType: typeMod, RefID: s}, nil
	}
	segs := strings.Split(s, "/")
	if !(len(segs) == 2 || len(segs) == 4 && segs[2] == "_history") || segs[0] == "" || segs[1] == "" {
		return Value{}, valuef("%q is neither an id, Type/id nor an absolute URL", s)
	}
	typ, id := segs[0], segs[1]
	if !p.spec.IsResourceType(typ) {
		return Value{}, valuef("%s is not a resource type", typ)
	}
	if typeMod != "" && typ != typeMod {
		return Value{}, valuef("%s contradicts the modifier :%s", s, typeMod)
	}
	if !p.isTarget(param, typ) {
		return Value{}, valuef("%s cannot refer to a %s", param.Code, typ)
	}
	return Value{RefType: typ, RefID: id}, nil
}

// isAbsolute reports whether s is an absolute URL (http:, https:, urn:,
// ...) rather than a relative reference.
func isAbsolute(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "urn:")
}
