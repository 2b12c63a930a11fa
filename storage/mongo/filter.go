package mongo

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// valueCond compiles one value of a plain (unchained) filter on param.
func valueCond(param *conformance.SearchParam, mod string, v *search.Value, now time.Time) (cond, error) {
	p := param.Code
	switch param.Type {
	case conformance.ParamToken:
		return tokenCond(p, mod, v)
	case conformance.ParamReference:
		if mod == "identifier" {
			return hasKey{codingKey(p, v)}, nil
		}
		return hasKey{referenceKey(p, v)}, nil
	case conformance.ParamString:
		return stringCond(p, mod, v.String), nil
	case conformance.ParamURI:
		return uriCond(p, mod, v.String), nil
	case conformance.ParamDate:
		return dateCond(p, v, now), nil
	case conformance.ParamNumber:
		return numberCond(p, "v", v, func(x *storage.IndexEntry) bool { return matchNumber(x.Number, v) }), nil
	case conformance.ParamQuantity:
		return quantityCond(p, v, now), nil
	case conformance.ParamComposite:
		return compositeCond(param, v, now), nil
	}
	return nil, fmt.Errorf("storage/mongo: %s parameters are not searchable", param.Type)
}

func tokenCond(p, mod string, v *search.Value) (cond, error) {
	switch mod {
	case "text":
		return prefixPattern(key(p, "x", storage.NormalizeString(v.String)), ""), nil
	case "of-type":
		return hasKey{key(p, "o", *v.System, v.Code, v.Value)}, nil
	case "in", "not-in":
		codes, err := search.ExpandValueSet(v.URL)
		if err != nil {
			return nil, fmt.Errorf("storage/mongo: %w", err)
		}
		// A code without a system (a code element's, whose system the
		// binding implies) counts as in the ValueSet when its code is.
		keys := make(hasKey, 0, 2*len(codes))
		for _, c := range codes {
			keys = append(keys, key(p, "s", c.System, c.Code), key(p, "s", "", c.Code))
		}
		return keys, nil
	}
	return hasKey{codingKey(p, v)}, nil
}

// codingKey is the key of a token value: code, |code, system| or system|code.
func codingKey(prefix string, v *search.Value) string {
	switch {
	case v.System == nil:
		return key(prefix, "c", v.Code)
	case v.Code == "":
		return key(prefix, "y", *v.System)
	}
	return key(prefix, "s", *v.System, v.Code)
}

func referenceKey(prefix string, v *search.Value) string {
	switch {
	case v.URL != "" && v.Version != "":
		return key(prefix, "u", v.URL+"|"+v.Version)
	case v.URL != "":
		return key(prefix, "u", v.URL)
	case v.RefType != "":
		return key(prefix, "r", v.RefType+"/"+v.RefID)
	}
	return key(prefix, "i", v.RefID)
}

func stringCond(p, mod, s string) cond {
	switch mod {
	case "exact":
		return hasKey{key(p, "e", s)}
	case "contains":
		return keyPattern{regexp.MustCompile("^" + regexp.QuoteMeta(key(p, "n", "")) + `[\s\S]*` +
			regexp.QuoteMeta(storage.NormalizeString(s)))}
	}
	return prefixPattern(key(p, "n", storage.NormalizeString(s)), "")
}

// prefixPattern matches the keys that start with prefix and continue with
// the regular expression rest.
func prefixPattern(prefix, rest string) keyPattern {
	return keyPattern{regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + rest)}
}

func uriCond(p, mod, s string) cond {
	switch mod {
	case "below":
		if strings.HasSuffix(s, "/") {
			return prefixPattern(key(p, "u", s), "")
		}
		return prefixPattern(key(p, "u", s), `(?:/|\z)`)
	case "above":
		// The URIs the value is below: itself and its prefixes up to a "/".
		keys := hasKey{key(p, "u", s)}
		for i := 1; i < len(s); i++ {
			if s[i] == '/' {
				keys = append(keys, key(p, "u", s[:i]), key(p, "u", s[:i+1]))
			}
		}
		return keys
	}
	return hasKey{key(p, "u", s)}
}

// dateCond: every prefix but eq and ap needs one bound of an entry, or a
// disjunction of single bounds, and is exact on d.<param>.s/e.
func dateCond(p string, v *search.Value, now time.Time) cond {
	qs, qe := v.Date.Start.UnixMicro(), v.Date.End.UnixMicro()
	s, e := "d."+p+".s", "d."+p+".e"
	var pre bson.D
	exact := true
	switch v.Prefix {
	case search.Ne:
		pre = either(cmp(s, "$lt", qs), cmp(e, "$gt", qe))
	case search.Gt:
		pre = cmp(e, "$gt", qe)
	case search.Lt:
		pre = cmp(s, "$lt", qs)
	case search.Ge:
		pre = either(cmp(s, "$gte", qs), cmp(e, "$gt", qe))
	case search.Le:
		pre = either(cmp(s, "$lt", qs), cmp(e, "$lte", qe))
	case search.Sa:
		pre = cmp(s, "$gte", qe)
	case search.Eb:
		pre = cmp(e, "$lte", qs)
	case search.Ap:
		lo, hi := approxDates(v.Date, now)
		pre, exact = append(cmp(s, "$lt", hi), cmp(e, "$gt", lo)...), false
	default:
		pre, exact = append(cmp(s, "$gte", qs), cmp(e, "$lte", qe)...), false
	}
	return entryMatch{param: p, pre: pre, preExact: exact, match: func(x *storage.IndexEntry) bool {
		return matchDate(x.Start, x.End, v.Prefix, v.Date, now)
	}}
}

// numberCond compares the values in d.<param>.<field> with v: exact but
// for eq and ap, which need two bounds of one entry.
func numberCond(p, field string, v *search.Value, match func(*storage.IndexEntry) bool) entryMatch {
	f := "d." + p + "." + field
	var pre bson.D
	exact := true
	switch v.Prefix {
	case search.Ne:
		pre = either(cmp(f, "$lt", v.Low), cmp(f, "$gte", v.High))
	case search.Gt, search.Sa:
		pre = cmp(f, "$gt", v.Number)
	case search.Lt, search.Eb:
		pre = cmp(f, "$lt", v.Number)
	case search.Ge:
		pre = cmp(f, "$gte", v.Number)
	case search.Le:
		pre = cmp(f, "$lte", v.Number)
	case search.Ap:
		lo, hi := approxNumbers(v)
		pre, exact = bson.D{{Key: f, Value: bson.D{{Key: "$gte", Value: lo}, {Key: "$lte", Value: hi}}}}, false
	default:
		pre, exact = bson.D{{Key: f, Value: bson.D{{Key: "$gte", Value: v.Low}, {Key: "$lt", Value: v.High}}}}, false
	}
	return entryMatch{param: p, pre: pre, preExact: exact, match: match}
}

// quantityCond: a value in a UCUM unit storage converts compares on the
// canonical values d.<param>.c with the canonical unit's key; another
// unit on d.<param>.v with the unit's key; no unit on d.<param>.v alone.
// A unit and a value together are never exact: they may come from
// different entries.
func quantityCond(p string, v *search.Value, now time.Time) cond {
	match := func(x *storage.IndexEntry) bool { return matchEntry(x, "", v, now) }
	if cv, canonical, ok := canonicalValue(v); ok {
		m := numberCond(p, "c", &cv, match)
		m.pre, m.preExact = append(m.pre, bson.E{Key: "k", Value: key(p, "k", canonical)}), false
		return m
	}
	m := numberCond(p, "v", v, match)
	if unit := unitKey(p, v); unit != "" {
		m.pre, m.preExact = append(m.pre, bson.E{Key: "k", Value: unit}), false
	}
	return m
}

// unitKey is the k key of a quantity value's unit, "" when it has none.
func unitKey(prefix string, v *search.Value) string {
	switch {
	case v.Code == "" && v.System == nil:
		return ""
	case v.System == nil:
		return key(prefix, "qc", v.Code)
	}
	return key(prefix, "q", *v.System, v.Code)
}

// compositeCond narrows in MongoDB by the keys of the token, reference,
// string and uri components and checks in Go that one entry matches all
// components (the same element, as R4 requires).
func compositeCond(param *conformance.SearchParam, v *search.Value, now time.Time) cond {
	p := param.Code
	parts := allOf{hasKey{key(p, "*")}}
	for i, c := range param.Components {
		if i >= len(v.Components) {
			break
		}
		cp := componentParam(c.Definition)
		if cp == nil {
			continue
		}
		cv := &v.Components[i]
		prefix := componentPrefix(p, i)
		switch cp.Type {
		case conformance.ParamToken:
			parts = append(parts, hasKey{codingKey(prefix, cv)})
		case conformance.ParamReference:
			parts = append(parts, hasKey{referenceKey(prefix, cv)})
		case conformance.ParamString:
			parts = append(parts, stringCond(prefix, "", cv.String))
		case conformance.ParamURI:
			parts = append(parts, uriCond(prefix, "", cv.String))
		}
	}
	return entryMatch{param: p, pre: parts.filter(), match: func(x *storage.IndexEntry) bool {
		return matchEntry(x, "", v, now)
	}}
}

// componentParam returns the parameter a composite's component definition
// names, nil when unknown (the component then narrows nothing in MongoDB).
func componentParam(url string) *conformance.SearchParam {
	spec, err := conformance.Load()
	if err != nil {
		return nil
	}
	return spec.SearchParamByURL(url)
}

func cmp(field, op string, v any) bson.D {
	return bson.D{{Key: field, Value: bson.D{{Key: op, Value: v}}}}
}

func either(a, b bson.D) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{a, b}}}
}
