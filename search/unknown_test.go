package search

import (
	"slices"
	"testing"
)

// Unknown and unsupported names and modifiers: ignored and listed in
// lenient handling, a 400 not-supported in strict handling.
func TestUnknownParameters(t *testing.T) {
	runUnknownCases(t, []unknownCase{
		{observation, "foo=x"},
		{observation, "Code=x"},
		{observation, "name=x"}, // a Patient parameter
		{observation, "code:exact=x"},
		{observation, "code:above=x"}, // subsumption needs a terminology server
		{observation, "code:below=x"},
		{observation, "code:a:b=x"},
		{patient, "name:text=x"},
		{patient, "name:below=x"},
		{patient, "birthdate:exact=2000"},
		{patient, "general-practitioner:Medication=1"},
		{patient, "general-practitioner:below=1"},
		{observation, "value-quantity:in=http://hl7.org/fhir/ValueSet/administrative-gender"},
		{observation, "component-code-value-quantity:exact=x$1"},
		{[]string{"Location"}, "near=42.256|-83.694|11.20|km"}, // special
		{patient, "_text=x"},
		{patient, "_content=x"},
		{patient, "_list=42"},
		{patient, "_query=current"},
		{patient, "_filter=name eq x"},
		{patient, "_contained=true"},
		{patient, "_containedType=contained"},
		{patient, "_count:x=1"},
		{patient, "_foo=1"},
		{patient, "=1"},
		{patient, "name.given=x"}, // chaining a string
	})

	// Lenient: several unknown parameters are listed once each, in order,
	// and the known ones still apply.
	q := mustParse(t, patient, "zeta=1&alpha=1&alpha=2&name=peter&_text=x")
	if !slices.Equal(q.Unknown, []string{"_text", "alpha", "zeta"}) {
		t.Errorf("unknown %q", q.Unknown)
	}
	if len(q.Filters) != 1 || q.Filters[0].Param.Code != "name" {
		t.Errorf("filters %+v", q.Filters)
	}
	// An unknown parameter with an empty value is still unknown.
	q = mustParse(t, patient, "foo=")
	if !slices.Equal(q.Unknown, []string{"foo"}) {
		t.Errorf("foo=: unknown %q", q.Unknown)
	}
	// A bad value is an error even next to unknown parameters.
	_, err := parse(t, patient, "foo=1&birthdate=xx")
	wantError(t, "foo=1&birthdate=xx", err, "birthdate")
}

// Empty values are ignored; an AND of several occurrences makes several
// filters, in the order given.
func TestFiltersAndOr(t *testing.T) {
	q := mustParse(t, patient, "name=&family=a&family=b,c&birthdate=ge2000&birthdate=le2010&gender=,", Options{Strict: true})
	var got []string
	for _, f := range q.Filters {
		s := f.Param.Code + "="
		for i, v := range f.Values {
			if i > 0 {
				s += ","
			}
			s += v.String + v.Code + string(v.Prefix)
		}
		got = append(got, s)
	}
	want := []string{"birthdate=ge", "birthdate=le", "family=a", "family=b,c"}
	if !slices.Equal(got, want) {
		t.Errorf("filters %q, want %q", got, want)
	}
}
