package search

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/conformance"
)

// Encode renders q's canonical search parameters, for the self and next
// links of a searchset: ParseQuery of the result, with the same types and
// options, returns a Query equal to q. It leaves out the Unknown
// parameters and the paging cursors (After, Before), which the caller adds.
// Dates come out in UTC, numbers as written, prefixes only when not eq.
func (q *Query) Encode() url.Values {
	v := url.Values{}
	if q.System && len(q.Types) > 0 {
		v.Set("_type", strings.Join(q.Types, ","))
	}
	for i := range q.Filters {
		f := &q.Filters[i]
		v.Add(filterKey(f), filterValue(f))
	}
	if len(q.Sort) > 0 {
		keys := make([]string, len(q.Sort))
		for i, k := range q.Sort {
			keys[i] = k.Param.Code
			if k.Descending {
				keys[i] = "-" + keys[i]
			}
		}
		v.Set("_sort", strings.Join(keys, ","))
	}
	v.Set("_count", strconv.Itoa(q.Count))
	if q.Total != "" {
		v.Set("_total", q.Total)
	}
	if q.Summary != "" {
		v.Set("_summary", q.Summary)
	}
	if len(q.Elements) > 0 {
		v.Set("_elements", strings.Join(q.Elements, ","))
	}
	encodeIncludes(v, "_include", q.Include)
	encodeIncludes(v, "_revinclude", q.RevInclude)
	return v
}

func encodeIncludes(v url.Values, name string, incs []Include) {
	for _, inc := range incs {
		s := "*"
		switch {
		case inc.SourceType != "" && inc.Param == nil:
			s = inc.SourceType + ":*"
		case inc.Param != nil:
			s = inc.SourceType + ":" + inc.Param.Code
			if inc.TargetType != "" {
				s += ":" + inc.TargetType
			}
		}
		key := name
		if inc.Iterate {
			key += ":iterate"
		}
		v.Add(key, s)
	}
}

// filterKey renders the parameter name of f: code[:modifier], a chain
// code[:Type].rest or a reverse chain _has:Type:ref:rest.
func filterKey(f *Filter) string {
	switch {
	case f.Has != nil:
		return "_has:" + f.Has.Type + ":" + f.Has.Param.Code + ":" + filterKey(&f.Has.Filter)
	case len(f.Or) > 0:
		return filterKey(&f.Or[0]) // alternatives of one chain without a type
	}
	k := f.Param.Code
	switch {
	case f.Missing != nil:
		k += ":missing"
	case f.Modifier != "":
		k += ":" + f.Modifier
	}
	if f.Chain != nil {
		k += "." + filterKey(f.Chain)
	}
	return k
}

// filterValue renders the value of f: its innermost filter's values,
// joined by commas.
func filterValue(f *Filter) string {
	switch {
	case f.Has != nil:
		return filterValue(&f.Has.Filter)
	case len(f.Or) > 0:
		return filterValue(&f.Or[0])
	case f.Chain != nil:
		return filterValue(f.Chain)
	case f.Missing != nil:
		return strconv.FormatBool(*f.Missing)
	}
	vals := make([]string, len(f.Values))
	for i, val := range f.Values {
		vals[i] = encodeValue(f.Param, f.Modifier, val)
	}
	return strings.Join(vals, ",")
}

// encodeValue renders one value of param, escaped.
func encodeValue(param *conformance.SearchParam, mod string, v Value) string {
	switch param.Type {
	case conformance.ParamNumber:
		return encodePrefix(v.Prefix) + encodeNumber(v)
	case conformance.ParamDate:
		return encodePrefix(v.Prefix) + formatDate(v.Date)
	case conformance.ParamQuantity:
		s := encodePrefix(v.Prefix) + encodeNumber(v)
		switch {
		case v.System != nil:
			s += "|" + Escape(*v.System) + "|" + Escape(v.Code)
		case v.Code != "":
			s += "||" + Escape(v.Code)
		}
		return s
	case conformance.ParamToken:
		switch mod {
		case "text":
			return Escape(v.String)
		case "in", "not-in":
			return Escape(v.URL)
		case "of-type":
			return Escape(deref(v.System)) + "|" + Escape(v.Code) + "|" + Escape(v.Value)
		}
		return encodeCoding(v)
	case conformance.ParamReference:
		switch {
		case mod == "identifier":
			return encodeCoding(v)
		case v.Version != "":
			return Escape(v.URL) + "|" + Escape(v.Version)
		case v.URL != "":
			return Escape(v.URL)
		case v.RefType != "" && v.RefType != mod:
			return Escape(v.RefType + "/" + v.RefID)
		}
		return Escape(v.RefID)
	case conformance.ParamComposite:
		parts := make([]string, len(v.Components))
		for i, c := range v.Components {
			cp := &conformance.SearchParam{Type: conformance.ParamString}
			if i < len(param.Components) {
				if def := componentParam(param.Components[i].Definition); def != nil {
					cp = def
				}
			}
			parts[i] = encodeValue(cp, "", c)
		}
		return strings.Join(parts, "$")
	}
	return Escape(v.String) // string, uri
}

func encodeCoding(v Value) string {
	if v.System == nil {
		return Escape(v.Code)
	}
	return Escape(*v.System) + "|" + Escape(v.Code)
}

func encodePrefix(p Prefix) string {
	if p == Eq {
		return ""
	}
	return string(p)
}

// encodeNumber renders a number as written when known, else in the
// shortest form that reads back as v.Number.
func encodeNumber(v Value) string {
	if v.String != "" {
		return Escape(v.String)
	}
	return strconv.FormatFloat(v.Number, 'g', -1, 64)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// componentParam looks a composite's component up; Encode has no Spec at
// hand, but the registry behind Spec.SearchParamByURL is package-level
// and does not depend on the receiver.
func componentParam(url string) *conformance.SearchParam {
	spec, err := conformance.Load()
	if err != nil {
		return nil
	}
	return spec.SearchParamByURL(url)
}
