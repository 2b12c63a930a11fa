package mongo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// The search index of a resource lives in its current document, so that the
// compare-and-swap of Write replaces it atomically with the version. It is
// computed from Write.Index and has four fields (and two for LastN and
// Stats, see aggregate.go), all flat so that MongoDB
// indexes them with ordinary (multikey or wildcard) indexes and FerretDB v1
// can query them without $elemMatch:
//
//	k   []string  lookup keys, one per distinct value form (see below);
//	              every search on token, reference, string and uri
//	              parameters, :missing, :not, :in and the first filtering of
//	              composites is an equality, $in or anchored $regex on k.
//	d   {param: {s: [int64], e: [int64], v: [float64], c: [float64]}}
//	              range fields of date (s: starts, e: ends, microseconds),
//	              number and quantity (v: values; c: UCUM values in their
//	              canonical unit) parameters.
//	ix  [entry]   the date, number, quantity and composite entries in full,
//	              for the checks in Go that d cannot express (see below).
//	o   {param: {a: string, d: string}}
//	              sort keys: a for ascending, d for descending (see sortkey.go).
//
// Keys are "param|kind|part|...|last": every part but the last has "\" and
// "|" escaped with "\", so a key reads back unambiguously and a prefix of
// the last part is a prefix of the key. The kinds:
//
//	param|*                    the parameter has a value (:missing)
//	param|c|code               token code in any system; reference
//	                           identifier value (:identifier)
//	param|s|system|code        token system and code ("" system: none)
//	param|y|system             token system with any code (system|)
//	param|x|text               token display or text, normalized (:text)
//	param|o|tsys|tcode|value   Identifier of a type (:of-type)
//	param|r|Type/id            reference to a typed resource
//	param|i|id                 reference by id, any type
//	param|u|url                reference URL or canonical (also url|version),
//	                           uri value
//	param|n|norm               string, normalized (default and :contains)
//	param|e|exact              string as written (:exact)
//	param|q|system|code        quantity unit
//	param|qc|code              quantity unit code in any system
//	param|k|unit               canonical UCUM unit of a quantity
//	param|N|...                composite component N (0-based), with the
//	                           kinds of the component's type after N
//
// A range condition on d holds when some element of the array satisfies it,
// and two conditions (d.date.s >= x, d.date.e <= y) may be satisfied by
// different elements: FerretDB has no $elemMatch. Conditions that need one
// bound, or a disjunction of single bounds, are exact; those that need two
// (date eq and ap, number eq and ap, a quantity's unit with its value, a
// composite's components) are a superset in MongoDB, and Search checks the
// candidates in Go against ix (see cond.go).
type (
	rangeDoc struct {
		Starts    []int64   `bson:"s,omitempty"`
		Ends      []int64   `bson:"e,omitempty"`
		Values    []float64 `bson:"v,omitempty"`
		Canonical []float64 `bson:"c,omitempty"`
	}
	sortDoc struct {
		Asc  string `bson:"a"`
		Desc string `bson:"d"`
	}
	// entryDoc is a storage.IndexEntry in ix.
	entryDoc struct {
		Param           string     `bson:"p"`
		Type            string     `bson:"t"`
		Norm            string     `bson:"n,omitempty"`
		Exact           string     `bson:"x,omitempty"`
		System          string     `bson:"sy,omitempty"`
		Code            string     `bson:"c,omitempty"`
		Text            string     `bson:"tx,omitempty"`
		TypeSystem      string     `bson:"ts,omitempty"`
		TypeCode        string     `bson:"tc,omitempty"`
		RefType         string     `bson:"rt,omitempty"`
		RefID           string     `bson:"ri,omitempty"`
		URL             string     `bson:"u,omitempty"`
		Start           int64      `bson:"s,omitempty"`
		End             int64      `bson:"e,omitempty"`
		Number          float64    `bson:"v,omitempty"`
		Low             float64    `bson:"lo,omitempty"`
		High            float64    `bson:"hi,omitempty"`
		CanonicalNumber float64    `bson:"cv,omitempty"`
		CanonicalCode   string     `bson:"cc,omitempty"`
		Components      []entryDoc `bson:"cs,omitempty"`
	}
)

// setIndex fills the index fields of d from entries.
func (d *currentDoc) setIndex(entries []storage.IndexEntry) error {
	keys := map[string]bool{}
	add := func(k string) { keys[k] = true }
	ranges := map[string]*rangeDoc{}
	sorts := map[string]*sortRange{}
	for i := range entries {
		e := &entries[i]
		if !validParamCode(e.Param) {
			return fmt.Errorf("storage/mongo: search parameter code %q cannot be a field name", e.Param)
		}
		add(key(e.Param, "*"))
		entryKeys(e.Param, e, add)
		switch e.Type {
		case conformance.ParamDate:
			r := rangeOf(ranges, e.Param)
			r.Starts = append(r.Starts, e.Start)
			r.Ends = append(r.Ends, e.End)
		case conformance.ParamNumber, conformance.ParamQuantity:
			r := rangeOf(ranges, e.Param)
			r.Values = append(r.Values, e.Number)
			if e.CanonicalCode != "" {
				r.Canonical = append(r.Canonical, e.CanonicalNumber)
			}
		}
		if needsEntry(e.Type) {
			d.Entries = append(d.Entries, toEntryDoc(e))
		}
		if v, ok := sortValue(e); ok {
			sr := sorts[e.Param]
			if sr == nil {
				sr = &sortRange{min: v, max: v}
				sorts[e.Param] = sr
			}
			sr.add(v)
		}
	}
	d.Keys = make([]string, 0, len(keys))
	for k := range keys {
		d.Keys = append(d.Keys, k)
	}
	if len(d.Keys) == 0 {
		d.Keys = nil
	}
	if len(ranges) > 0 {
		d.Ranges = ranges
	}
	if len(sorts) > 0 {
		d.Sort = make(map[string]sortDoc, len(sorts))
		for p, sr := range sorts {
			d.Sort[p] = sortDoc{Asc: ascKey(sr.min), Desc: descKey(sr.max)}
		}
	}
	if d.Type == "Observation" {
		d.LastN = lastNGroup(entries)
	}
	d.Quantities = quantityValues(entries)
	return nil
}

func rangeOf(m map[string]*rangeDoc, param string) *rangeDoc {
	r := m[param]
	if r == nil {
		r = &rangeDoc{}
		m[param] = r
	}
	return r
}

// validParamCode reports whether code can be part of a dotted field path.
func validParamCode(code string) bool {
	return code != "" && !strings.ContainsAny(code, ".$|\x00")
}

// needsEntry reports whether entries of a parameter type are kept in ix.
func needsEntry(typ string) bool {
	switch typ {
	case conformance.ParamDate, conformance.ParamNumber, conformance.ParamQuantity, conformance.ParamComposite:
		return true
	}
	return false
}

// key builds a lookup key: prefix (a parameter code, or "code|N" for a
// composite's component N), kind, then the parts, all but the last escaped.
func key(prefix, kind string, parts ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('|')
	b.WriteString(kind)
	for i, p := range parts {
		b.WriteByte('|')
		if i == len(parts)-1 {
			b.WriteString(p)
		} else {
			escapeTo(&b, p)
		}
	}
	return b.String()
}

func escapeTo(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '|' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}

func componentPrefix(param string, i int) string { return param + "|" + strconv.Itoa(i) }

// entryKeys calls add with the keys of e under prefix.
func entryKeys(prefix string, e *storage.IndexEntry, add func(string)) {
	switch e.Type {
	case conformance.ParamToken:
		codingKeys(prefix, e.System, e.Code, add)
		if e.Text != "" {
			add(key(prefix, "x", e.Text))
		}
		if e.TypeCode != "" {
			add(key(prefix, "o", e.TypeSystem, e.TypeCode, e.Code))
		}
	case conformance.ParamReference:
		if e.RefID != "" {
			if e.RefType != "" {
				add(key(prefix, "r", e.RefType+"/"+e.RefID))
			}
			add(key(prefix, "i", e.RefID))
		}
		if e.URL != "" {
			add(key(prefix, "u", e.URL))
		}
		codingKeys(prefix, e.System, e.Code, add)
	case conformance.ParamString:
		add(key(prefix, "n", e.Norm))
		add(key(prefix, "e", e.Exact))
	case conformance.ParamURI:
		add(key(prefix, "u", e.Exact))
	case conformance.ParamNumber, conformance.ParamQuantity:
		if e.System != "" || e.Code != "" {
			add(key(prefix, "q", e.System, e.Code))
			add(key(prefix, "qc", e.Code))
		}
		if e.CanonicalCode != "" {
			add(key(prefix, "k", e.CanonicalCode))
		}
	case conformance.ParamComposite:
		for i := range e.Components {
			entryKeys(componentPrefix(prefix, i), &e.Components[i], add)
		}
	}
}

// codingKeys adds the keys of a system|code pair (token, identifier).
func codingKeys(prefix, system, code string, add func(string)) {
	if code != "" {
		add(key(prefix, "s", system, code))
		add(key(prefix, "c", code))
	}
	if system != "" {
		add(key(prefix, "y", system))
	}
}

func toEntryDoc(e *storage.IndexEntry) entryDoc {
	d := entryDoc{
		Param: e.Param, Type: e.Type, Norm: e.Norm, Exact: e.Exact,
		System: e.System, Code: e.Code, Text: e.Text, TypeSystem: e.TypeSystem, TypeCode: e.TypeCode,
		RefType: e.RefType, RefID: e.RefID, URL: e.URL, Start: e.Start, End: e.End,
		Number: e.Number, Low: e.Low, High: e.High,
		CanonicalNumber: e.CanonicalNumber, CanonicalCode: e.CanonicalCode,
	}
	for i := range e.Components {
		d.Components = append(d.Components, toEntryDoc(&e.Components[i]))
	}
	return d
}

func (d *entryDoc) entry() storage.IndexEntry {
	e := storage.IndexEntry{
		Param: d.Param, Type: d.Type, Norm: d.Norm, Exact: d.Exact,
		System: d.System, Code: d.Code, Text: d.Text, TypeSystem: d.TypeSystem, TypeCode: d.TypeCode,
		RefType: d.RefType, RefID: d.RefID, URL: d.URL, Start: d.Start, End: d.End,
		Number: d.Number, Low: d.Low, High: d.High,
		CanonicalNumber: d.CanonicalNumber, CanonicalCode: d.CanonicalCode,
	}
	for i := range d.Components {
		e.Components = append(e.Components, d.Components[i].entry())
	}
	return e
}
