package conformance

import (
	"fmt"
	"testing"
)

func TestFHIRPathModel(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.FHIRPathModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ typ, name, want string }{
		{"Observation", "code", "false [{CodeableConcept code}]"},
		{"Observation", "effective", "true [{dateTime effectiveDateTime} {Period effectivePeriod} {Timing effectiveTiming} {instant effectiveInstant}]"},
		{"Observation", "component", "false [{Observation.component component}]"},
		{"Observation.component", "value", "true [{Quantity valueQuantity} {CodeableConcept valueCodeableConcept} {string valueString} {boolean valueBoolean} {integer valueInteger} {Range valueRange} {Ratio valueRatio} {SampledData valueSampledData} {time valueTime} {dateTime valueDateTime} {Period valuePeriod}]"},
		{"Observation.component", "referenceRange", "false [{Observation.referenceRange referenceRange}]"},
		{"NutritionOrder", "instantiates", "false [{uri instantiates}]"},
		{"NutritionOrder", "instantiatesCanonical", "false [{canonical instantiatesCanonical}]"},
		{"Questionnaire.item", "item", "false [{Questionnaire.item item}]"},
		{"Patient", "id", "false [{string id}]"},
		{"Extension", "url", "false [{uri url}]"},
		{"Timing", "repeat", "false [{Timing.repeat repeat}]"},
		{"Timing.repeat", "bounds", "true [{Duration boundsDuration} {Range boundsRange} {Period boundsPeriod}]"},
		{"Bundle.entry", "resource", "false [{Resource resource}]"},
		{"Quantity", "value", "false [{decimal value}]"},
		{"Age", "value", "false [{decimal value}]"},
	} {
		el := m.Element(c.typ, c.name)
		if el == nil {
			t.Errorf("%s.%s: no element", c.typ, c.name)
			continue
		}
		if got := fmt.Sprint(el.Choice, el.Types); got != c.want {
			t.Errorf("%s.%s = %s, want %s", c.typ, c.name, got, c.want)
		}
	}
	for _, c := range [][3]string{
		{"Patient", "gender", "http://hl7.org/fhir/ValueSet/administrative-gender"},
		{"Observation", "status", "http://hl7.org/fhir/ValueSet/observation-status"},
		{"Observation", "code", ""}, // example binding
		{"Quantity", "comparator", "http://hl7.org/fhir/ValueSet/quantity-comparator"},
	} {
		if got := m.Element(c[0], c[1]).Binding; got != c[2] {
			t.Errorf("%s.%s binding %q, want %q", c[0], c[1], got, c[2])
		}
	}
	for _, missing := range [][2]string{{"Observation", "valueQuantity"}, {"Observation", "value[x]"}, {"string", "value"}, {"Nope", "id"}} {
		if el := m.Element(missing[0], missing[1]); el != nil {
			t.Errorf("%s.%s: %v, want none", missing[0], missing[1], el)
		}
	}
	for typ, want := range map[string]string{
		"Age": "Quantity", "Quantity": "Element", "code": "string", "canonical": "uri", "positiveInt": "integer",
		"Patient": "DomainResource", "DomainResource": "Resource", "Resource": "", "Bundle": "Resource",
		"Observation.component": "BackboneElement", "Timing.repeat": "Element", "Dosage": "BackboneElement",
	} {
		if got := m.BaseType(typ); got != want {
			t.Errorf("BaseType(%s) = %q, want %q", typ, got, want)
		}
	}
}
