package storage

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir/fhirpath"
	"github.com/medbridge/medbridge/search"
)

// kinds are the types the conversions below know; every other type is
// handled as the nearest of these it derives from (code as string,
// canonical as uri, Age as Quantity, Patient as Resource).
var kinds = map[string]bool{
	"string": true, "boolean": true, "decimal": true, "integer": true,
	"date": true, "dateTime": true, "instant": true, "time": true, "uri": true,
	"Coding": true, "CodeableConcept": true, "Identifier": true, "ContactPoint": true,
	"HumanName": true, "Address": true, "Reference": true, "Quantity": true,
	"Money": true, "Range": true, "Period": true, "Timing": true,
	"SampledData": true, "Extension": true, "Resource": true,
}

// kind returns the known type n is or derives from, "" if none. Untyped
// primitives (a model gap) are taken for what their JSON is.
func (x *Extractor) kind(n fhirpath.Node) string {
	for t := n.Type; t != ""; t = x.model.BaseType(t) {
		if kinds[t] {
			return t
		}
	}
	if n.Type == "" {
		switch n.Value.(type) {
		case string:
			return "string"
		case bool:
			return "boolean"
		case json.Number, float64:
			return "decimal"
		}
	}
	return ""
}

// extensionValue returns the value[x] of an Extension.
func (x *Extractor) extensionValue(n fhirpath.Node) (fhirpath.Node, bool) {
	m, _ := n.Value.(map[string]any)
	if el := x.model.Element("Extension", "value"); el != nil && m != nil {
		for _, t := range el.Types {
			if v, ok := m[t.JSONName]; ok && v != nil {
				return fhirpath.Node{Value: v, Type: t.Name}, true
			}
		}
	}
	return fhirpath.Node{}, false
}

// appendValues appends the entries of parameter code, of type ptyp, for
// the value n. Values of a type the parameter type has no reading for
// (SampledData for a quantity) add nothing; an Extension counts as its
// value.
func (x *Extractor) appendValues(out []IndexEntry, code, ptyp string, n fhirpath.Node) []IndexEntry {
	kind := x.kind(n)
	if kind == "Extension" {
		var ok bool
		if n, ok = x.extensionValue(n); !ok {
			return out
		}
		kind = x.kind(n)
	}
	e := IndexEntry{Param: code, Type: ptyp}
	m, _ := n.Value.(map[string]any)
	s, _ := n.Value.(string)
	switch ptyp {
	case conformance.ParamString:
		return appendStrings(out, e, kind, m, s)
	case conformance.ParamToken:
		return appendTokens(out, e, kind, n, m)
	case conformance.ParamReference:
		return x.appendReferences(out, e, kind, m, s)
	case conformance.ParamDate:
		return appendDates(out, e, kind, m, s)
	case conformance.ParamNumber:
		return appendNumbers(out, e, kind, n.Value, m)
	case conformance.ParamQuantity:
		return appendQuantities(out, e, kind, m)
	case conformance.ParamURI:
		if (kind == "uri" || kind == "string") && s != "" {
			e.Exact = s
			out = append(out, e)
			// A versioned canonical (_profile=http://x|2) is also found
			// by its URL alone.
			if url, _, ok := strings.Cut(s, "|"); ok && n.Type == "canonical" && url != "" {
				e.Exact = url
				out = append(out, e)
			}
		}
	}
	return out
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// strs returns a string or an array of strings member.
func strs(m map[string]any, key string) []string {
	switch v := m[key].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func maps(m map[string]any, key string) []map[string]any {
	switch v := m[key].(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, x := range v {
			if c, ok := x.(map[string]any); ok {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

func sub(m map[string]any, key string) map[string]any {
	c, _ := m[key].(map[string]any)
	return c
}

// appendStrings: a string-like primitive, or every part of a HumanName
// (family, given, prefix, suffix, text) or Address (line, city, district,
// state, postalCode, country, text).
func appendStrings(out []IndexEntry, e IndexEntry, kind string, m map[string]any, s string) []IndexEntry {
	add := func(v string) {
		if v != "" {
			e.Exact, e.Norm = v, NormalizeString(v)
			out = append(out, e)
		}
	}
	switch kind {
	case "string", "uri":
		add(s)
	case "HumanName":
		add(str(m, "family"))
		for _, k := range []string{"given", "prefix", "suffix"} {
			for _, v := range strs(m, k) {
				add(v)
			}
		}
		add(str(m, "text"))
	case "Address":
		for _, v := range strs(m, "line") {
			add(v)
		}
		for _, k := range []string{"city", "district", "state", "postalCode", "country", "text"} {
			add(str(m, k))
		}
	}
	return out
}

// appendTokens: Coding, CodeableConcept (each coding, and the text for
// :text), Identifier (system|value, with each type coding for :of-type),
// ContactPoint (system|value, as HAPI FHIR does) and code-like primitives:
// a code bound to a required ValueSet with the system the ValueSet has it
// in (gender: http://hl7.org/fhir/administrative-gender|male), others
// without a system.
func appendTokens(out []IndexEntry, e IndexEntry, kind string, n fhirpath.Node, m map[string]any) []IndexEntry {
	v := n.Value
	switch kind {
	case "Coding":
		out = appendCoding(out, e, m)
	case "CodeableConcept":
		switch cs := m["coding"].(type) {
		case []any:
			for _, c := range cs {
				if c, ok := c.(map[string]any); ok {
					out = appendCoding(out, e, c)
				}
			}
		case map[string]any:
			out = appendCoding(out, e, cs)
		}
		if t := str(m, "text"); t != "" {
			e.Text = NormalizeString(t)
			out = append(out, e)
		}
	case "Identifier":
		e.System, e.Code = str(m, "system"), str(m, "value")
		if e.System == "" && e.Code == "" {
			return out
		}
		typ := sub(m, "type")
		if t := str(typ, "text"); t != "" {
			e.Text = NormalizeString(t)
		}
		typed := false
		for _, c := range maps(typ, "coding") {
			if code := str(c, "code"); code != "" {
				e.TypeSystem, e.TypeCode = str(c, "system"), code
				out = append(out, e)
				typed = true
			}
		}
		if !typed {
			out = append(out, e)
		}
	case "ContactPoint":
		e.System, e.Code = str(m, "system"), str(m, "value")
		if e.Code != "" {
			out = append(out, e)
		}
	case "string", "uri":
		if s, _ := v.(string); s != "" {
			e.Code = s
			if n.Type == "code" && n.Element != nil && n.Element.Binding != "" {
				e.System = boundSystem(n.Element.Binding, s)
			}
			out = append(out, e)
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			e.Code = strconv.FormatBool(b)
			out = append(out, e)
		}
	case "integer", "decimal":
		if s, ok := numberText(v); ok {
			e.Code = s
			out = append(out, e)
		}
	}
	return out
}

func appendCoding(out []IndexEntry, e IndexEntry, c map[string]any) []IndexEntry {
	e.System, e.Code = str(c, "system"), str(c, "code")
	if d := str(c, "display"); d != "" {
		e.Text = NormalizeString(d)
	}
	if e.System != "" || e.Code != "" || e.Text != "" {
		out = append(out, e)
	}
	return out
}

// appendReferences: a Reference by its literal reference and its
// identifier, a canonical or uri by URL (a canonical "url|version" also
// as url alone), and a resource (Bundle.entry[0].resource) as Type/id.
func (x *Extractor) appendReferences(out []IndexEntry, e IndexEntry, kind string, m map[string]any, s string) []IndexEntry {
	switch kind {
	case "Reference":
		ref := str(m, "reference")
		if ref != "" {
			x.setReference(&e, ref)
		}
		if id := sub(m, "identifier"); id != nil {
			e.System, e.Code = str(id, "system"), str(id, "value")
		}
		if e.RefID != "" || e.URL != "" || e.Code != "" {
			out = append(out, e)
		}
	case "uri", "string":
		if s == "" {
			return out
		}
		e.URL = s
		out = append(out, e)
		if url, _, ok := strings.Cut(s, "|"); ok && url != "" {
			e.URL = url
			out = append(out, e)
		}
	case "Resource":
		if id := str(m, "id"); id != "" {
			e.RefType, e.RefID = str(m, "resourceType"), id
			out = append(out, e)
		}
	}
	return out
}

// setReference reads a literal reference: "Type/id" (a version is
// dropped) into RefType/RefID; an absolute URL into URL and, when it ends
// in Type/id[/_history/v], RefType/RefID too; anything else (urn:uuid:,
// a contained "#id") into URL.
func (x *Extractor) setReference(e *IndexEntry, ref string) {
	abs := strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#")
	if abs {
		e.URL = ref
	}
	if strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#") {
		return
	}
	path := ref
	if abs {
		// An absolute reference is local only under the server's own base;
		// one to another server is kept as a URL and never read as Type/id.
		local, ok := strings.CutPrefix(ref, x.base+"/")
		if x.base == "" || !ok {
			return
		}
		path = local
	}
	if i := strings.Index(path, "/_history/"); i >= 0 {
		path = path[:i]
	}
	typ, id, ok := strings.Cut(path, "/")
	if ok && x.spec.IsResourceType(typ) && id != "" && !strings.ContainsAny(id, "/?#|") {
		e.RefType, e.RefID = typ, id
		return
	}
	if !abs {
		e.URL = ref
	}
}

// appendDates: date, dateTime and instant as the range their precision
// implies; a Period from its start's range start (MinTime when open) to
// its end's range end (MaxTime when open); a Timing as each event and its
// repeat.boundsPeriod. Values that do not parse are left out.
func appendDates(out []IndexEntry, e IndexEntry, kind string, m map[string]any, s string) []IndexEntry {
	switch kind {
	case "date", "dateTime", "instant":
		if r, err := search.ParseDateRange(s); err == nil {
			e.Start, e.End = r.Start.UnixMicro(), r.End.UnixMicro()
			out = append(out, e)
		}
	case "Period":
		if p, ok := periodRange(m); ok {
			e.Start, e.End = p.Start, p.End
			out = append(out, e)
		}
	case "Timing":
		for _, ev := range strs(m, "event") {
			out = appendDates(out, e, "dateTime", nil, ev)
		}
		if b := sub(sub(m, "repeat"), "boundsPeriod"); b != nil {
			out = appendDates(out, e, "Period", b, "")
		}
	}
	return out
}

func periodRange(m map[string]any) (p struct{ Start, End int64 }, ok bool) {
	start, end := str(m, "start"), str(m, "end")
	if start == "" && end == "" {
		return p, false
	}
	p.Start, p.End = MinTime, MaxTime
	if start != "" {
		r, err := search.ParseDateRange(start)
		if err != nil {
			return p, false
		}
		p.Start = r.Start.UnixMicro()
	}
	if end != "" {
		r, err := search.ParseDateRange(end)
		if err != nil {
			return p, false
		}
		p.End = r.End.UnixMicro()
	}
	return p, true
}

// appendNumbers: a decimal or integer with the range of its precision; a
// Range from its low to its high value (open ends are ±MaxFloat64), its
// Number the low value or, without one, the high.
func appendNumbers(out []IndexEntry, e IndexEntry, kind string, v any, m map[string]any) []IndexEntry {
	switch kind {
	case "decimal", "integer":
		if s, ok := numberText(v); ok {
			if e.Number, e.Low, e.High, ok = decimalRange(s); ok {
				out = append(out, e)
			}
		}
	case "Range":
		if setRange(&e, m) {
			out = append(out, e)
		}
	}
	return out
}

// setRange sets Number, Low and High from a Range's low and high values,
// and System/Code from their unit.
func setRange(e *IndexEntry, m map[string]any) bool {
	low, lok := quantityNumber(sub(m, "low"))
	high, hok := quantityNumber(sub(m, "high"))
	if !lok && !hok {
		return false
	}
	e.Low, e.High = -math.MaxFloat64, math.MaxFloat64
	if hok {
		e.Number, e.High = high, high
		e.System, e.Code = unit(sub(m, "high"))
	}
	if lok {
		e.Number, e.Low = low, low
		e.System, e.Code = unit(sub(m, "low"))
	}
	return true
}

func quantityNumber(q map[string]any) (float64, bool) {
	s, ok := numberText(q["value"])
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func unit(q map[string]any) (system, code string) {
	code = str(q, "code")
	if code == "" {
		code = str(q, "unit")
	}
	return str(q, "system"), code
}

// appendQuantities: a Quantity (and Age, Duration, ...) with its value's
// precision range, its unit system and code (the unit text when there is
// no code) and, for the UCUM units in ucumUnits, the canonical value; a
// Money with its currency (system urn:iso:std:iso:4217); a Range (see
// setRange). SampledData is not searchable by value.
func appendQuantities(out []IndexEntry, e IndexEntry, kind string, m map[string]any) []IndexEntry {
	switch kind {
	case "Quantity":
		s, ok := numberText(m["value"])
		if !ok {
			return out
		}
		if e.Number, e.Low, e.High, ok = decimalRange(s); !ok {
			return out
		}
		e.System, e.Code = unit(m)
		if e.System == UCUMSystem {
			e.CanonicalNumber, e.CanonicalCode, _ = CanonicalUCUM(e.Number, str(m, "code"))
		}
		out = append(out, e)
	case "Money":
		s, ok := numberText(m["value"])
		if !ok {
			return out
		}
		if e.Number, e.Low, e.High, ok = decimalRange(s); !ok {
			return out
		}
		if c := str(m, "currency"); c != "" {
			e.System, e.Code = "urn:iso:std:iso:4217", c
		}
		out = append(out, e)
	case "Range":
		if setRange(&e, m) {
			out = append(out, e)
		}
	}
	return out
}

// numberText returns a JSON number as written (json.Number) or formatted.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

// decimalRange returns a decimal's value and the range its precision
// implies, half a unit of the last digit written on either side: "100" is
// [99.5, 100.5), "100.0" [99.95, 100.05), "1e2" (one significant figure)
// [50, 150), as search parses query values. The bounds are the float64s
// nearest to the exact decimal bounds.
func decimalRange(s string) (n, low, high float64, ok bool) {
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(n, 0) {
		return 0, 0, 0, false
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		if exp, err = strconv.Atoi(s[i+1:]); err != nil {
			return 0, 0, 0, false
		}
	}
	var buf [40]byte
	digits := buf[:0]
	frac := 0
	for i := 0; i < len(mant); i++ {
		switch c := mant[i]; {
		case c == '.':
			frac = len(mant) - i - 1
		default:
			digits = append(digits, c)
		}
	}
	// In units of the last digit, the value is the integer digits; the
	// bounds are digits*10 ∓ 5 in units of a tenth of that.
	unit := exp - frac - 1
	if i, err := strconv.ParseInt(string(digits), 10, 64); err == nil && i > -1e17 && i < 1e17 {
		low = scaled(i*10-5, unit)
		high = scaled(i*10+5, unit)
		return n, low, high, true
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, 0, 0, false
	}
	half := new(big.Rat).SetFrac(big.NewInt(5), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(-unit, 0))), nil))
	if unit > 0 {
		half.Mul(half, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(unit)), nil)))
	}
	low, _ = new(big.Rat).Sub(r, half).Float64()
	high, _ = new(big.Rat).Add(r, half).Float64()
	return n, low, high, true
}

// scaled returns i × 10^exp, correctly rounded.
func scaled(i int64, exp int) float64 {
	var buf [48]byte
	b := strconv.AppendInt(buf[:0], i, 10)
	b = append(b, 'e')
	b = strconv.AppendInt(b, int64(exp), 10)
	f, _ := strconv.ParseFloat(string(b), 64)
	return f
}

var boundSystems sync.Map // ValueSet URL → map[string]string, code → system

// boundSystem returns the system of code in the R4 ValueSet url, from its
// expansion; "" when the expansion does not have the code, has it in more
// than one system, or is not in the spec data.
func boundSystem(url, code string) string {
	v, ok := boundSystems.Load(url)
	if !ok {
		systems := map[string]string{}
		codings, err := search.ExpandValueSet(url)
		if err == nil {
			for _, c := range codings {
				if s, dup := systems[c.Code]; dup && s != c.System {
					systems[c.Code] = ""
				} else {
					systems[c.Code] = c.System
				}
			}
		}
		v, _ = boundSystems.LoadOrStore(url, systems)
	}
	return v.(map[string]string)[code]
}
