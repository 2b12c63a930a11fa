package medtech

import (
	"slices"
	"strings"
	"time"
)

// FHIR value types, as templates name them (case-insensitively).
const (
	valueQuantity        = "Quantity"
	valueSampledData     = "SampledData"
	valueCodeableConcept = "CodeableConcept"
	valueString          = "String"
)

// maxSamples bounds the data points of one SampledData (a day at one per
// second).
const maxSamples = 86_400

// fhirTemplate is a compiled CodeValueFhir template.
type fhirTemplate struct {
	typeName string
	// interval is the grouping window; 0: each reading is its own
	// Observation.
	interval   time.Duration
	codes      []Code
	category   []Concept
	value      *valueType
	components []component
	path       string
}

type component struct {
	codes []Code
	value *valueType
}

// valueType is how a value becomes value[x].
type valueType struct {
	name, kind string
	// path is the value's place in fhirmapping.json.
	path string
	// Quantity and SampledData (origin): unit, system and code.
	unit, system, code string
	// SampledData: the sampling period in milliseconds.
	period float64
	// CodeableConcept: the concept.
	concept Concept
}

// Code is a FHIR Coding of a template.
type Code struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Concept is a FHIR CodeableConcept of a template.
type Concept struct {
	Codes []Code `json:"codes,omitempty"`
	Text  string `json:"text,omitempty"`
}

// parseFhirMapping compiles fhirmapping.json.
func parseFhirMapping(fe *fileErrors, root any) []*fhirTemplate {
	o := asObject(fe, "$", root)
	if o == nil {
		return nil
	}
	defer o.done()
	if tt := o.str("templateType", true); tt != "" && !templateType(tt, "CollectionFhir") {
		fe.add(member("$", "templateType"), "expected CollectionFhir, found %q", tt)
		o.skip()
		return nil
	}
	list, path := o.array("template", true)
	var out []*fhirTemplate
	for i, item := range list {
		if t := parseCodeValue(fe, index(path, i), item); t != nil {
			out = append(out, t)
		}
	}
	return out
}

func parseCodeValue(fe *fileErrors, path string, v any) *fhirTemplate {
	c := asObject(fe, path, v)
	if c == nil {
		return nil
	}
	defer c.done()
	tt := c.str("templateType", true)
	if tt == "" {
		c.skip()
		return nil
	}
	if !templateType(tt, "CodeValueFhir") {
		fe.add(member(path, "templateType"), "unknown template type %q (known: CodeValueFhir)", tt)
		c.skip()
		return nil
	}
	body, bodyPath, ok := c.get("template")
	if !ok {
		fe.add(bodyPath, "missing")
		return nil
	}
	o := asObject(fe, bodyPath, body)
	if o == nil {
		return nil
	}
	defer o.done()
	n := len(fe.errs)
	t := &fhirTemplate{path: bodyPath, typeName: o.str("typeName", true)}
	if minutes, ok := o.number("periodInterval"); ok {
		_, p, _ := o.get("periodInterval")
		switch minutes {
		case 0, 60, 1440:
			t.interval = time.Duration(minutes) * time.Minute
		case -1:
			fe.add(p, "grouping by correlation id (-1) is not supported; use 0, 60 or 1440 with a correlationIdExpression")
		default:
			fe.add(p, "expected 0 (each reading), 60 (hour) or 1440 (day), found %v", minutes)
		}
	}
	codes, codesPath := o.array("codes", true)
	t.codes = parseCodes(fe, codesPath, codes)
	categories, categoryPath := o.array("category", false)
	for i, item := range categories {
		t.category = append(t.category, parseConcept(fe, index(categoryPath, i), item))
	}
	if v, p, ok := o.get("value"); ok {
		t.value = parseValueType(fe, p, v, t.interval)
	}
	comps, compsPath := o.array("components", false)
	for i, item := range comps {
		co := asObject(fe, index(compsPath, i), item)
		if co == nil {
			continue
		}
		cc, ccPath := co.array("codes", true)
		comp := component{codes: parseCodes(fe, ccPath, cc)}
		if v, p, ok := co.get("value"); ok {
			comp.value = parseValueType(fe, p, v, t.interval)
		} else {
			fe.add(p, "missing")
		}
		co.done()
		t.components = append(t.components, comp)
	}
	if t.value == nil && len(comps) == 0 {
		_, p, _ := o.get("value")
		fe.add(p, "missing: a template needs a value or components")
	}
	if len(fe.errs) > n {
		return nil
	}
	return t
}

func parseCodes(fe *fileErrors, path string, list []any) []Code {
	var out []Code
	for i, item := range list {
		o := asObject(fe, index(path, i), item)
		if o == nil {
			continue
		}
		out = append(out, Code{System: o.str("system", false), Code: o.str("code", true), Display: o.str("display", false)})
		o.done()
	}
	return out
}

// parseConcept reads a category: {codes, text}, one of them at least.
func parseConcept(fe *fileErrors, path string, v any) Concept {
	o := asObject(fe, path, v)
	if o == nil {
		return Concept{}
	}
	defer o.done()
	list, codesPath := o.array("codes", false)
	c := Concept{Codes: parseCodes(fe, codesPath, list), Text: o.str("text", false)}
	if len(c.Codes) == 0 && c.Text == "" {
		fe.add(path, "a category needs codes or text")
	}
	return c
}

func parseValueType(fe *fileErrors, path string, v any, interval time.Duration) *valueType {
	o := asObject(fe, path, v)
	if o == nil {
		return nil
	}
	defer o.done()
	vt := &valueType{name: o.str("valueName", true), path: path}
	kind := o.str("valueType", true)
	for _, k := range []string{valueQuantity, valueSampledData, valueCodeableConcept, valueString} {
		if strings.EqualFold(kind, k) {
			vt.kind = k
		}
	}
	switch vt.kind {
	case valueQuantity:
		vt.unit, vt.system, vt.code = o.str("unit", false), o.str("system", false), o.str("code", false)
		if vt.code != "" && vt.system == "" {
			_, p, _ := o.get("system")
			fe.add(p, "missing: a Quantity with a code needs its system (UCUM: http://unitsofmeasure.org)")
		}
	case valueSampledData:
		vt.unit, vt.system, vt.code = o.str("unit", false), o.str("system", false), o.str("code", false)
		period, ok := o.number("defaultPeriod")
		_, p, _ := o.get("defaultPeriod")
		switch {
		case !ok:
			fe.add(p, "missing: SampledData needs the sampling period in milliseconds")
		case period <= 0:
			fe.add(p, "must be more than 0 milliseconds")
		case interval > 0 && float64(interval.Milliseconds())/period > maxSamples:
			fe.add(p, "%v ms makes more than %d samples per window", period, maxSamples)
		default:
			vt.period = period
		}
	case valueCodeableConcept:
		list, codesPath := o.array("codes", false)
		vt.concept = Concept{Codes: parseCodes(fe, codesPath, list), Text: o.str("text", false)}
		if len(vt.concept.Codes) == 0 && vt.concept.Text == "" {
			fe.add(path, "a CodeableConcept value needs codes or text")
		}
	case valueString:
	default:
		if kind != "" {
			_, p, _ := o.get("valueType")
			fe.add(p, "unknown value type %q (known: Quantity, SampledData, CodeableConcept, String)", kind)
		}
		o.skip()
		return nil
	}
	return vt
}

// valueTypes lists the template's value and components' values.
func (t *fhirTemplate) valueTypes() []*valueType {
	var vts []*valueType
	if t.value != nil {
		vts = append(vts, t.value)
	}
	for _, c := range t.components {
		vts = append(vts, c.value)
	}
	return vts
}

// sampled reports whether a value of t is SampledData.
func (t *fhirTemplate) sampled() bool {
	return slices.ContainsFunc(t.valueTypes(), func(vt *valueType) bool { return vt.kind == valueSampledData })
}
