package search

import "testing"

func TestStringParameter(t *testing.T) {
	runValueCases(t, []valueCase{
		{patient, "name=pet", "name@Patient", []Value{{String: "pet"}}},
		{patient, "name=Pet%C3%A9r", "name@Patient", []Value{{String: "Petér"}}},
		{patient, "name=pet,paul", "name@Patient", []Value{{String: "pet"}, {String: "paul"}}},
		{patient, "name:exact=Peter", "name@Patient:exact", []Value{{String: "Peter"}}},
		{patient, "name:contains=ete", "name@Patient:contains", []Value{{String: "ete"}}},
		{patient, "family=van%20der", "family@Patient", []Value{{String: "van der"}}},
		{patient, "name=a,,b", "name@Patient", []Value{{String: "a"}, {String: "b"}}},
		{patient, "name:missing=true", "name@Patient:missing=true", nil},
		{[]string{"Organization"}, "address-city=ber", "address-city@Organization", []Value{{String: "ber"}}},
	})
}

func TestURIParameter(t *testing.T) {
	vs := []string{"ValueSet"}
	runValueCases(t, []valueCase{
		{vs, "url=http://hl7.org/fhir/ValueSet/x", "url@ValueSet", []Value{{String: "http://hl7.org/fhir/ValueSet/x"}}},
		{vs, "url:below=http://hl7.org/fhir/", "url@ValueSet:below", []Value{{String: "http://hl7.org/fhir/"}}},
		{vs, "url:above=http://hl7.org/fhir/ValueSet/x/y", "url@ValueSet:above", []Value{{String: "http://hl7.org/fhir/ValueSet/x/y"}}},
		{vs, "url:missing=false", "url@ValueSet:missing=false", nil},
		{vs, `url=urn:a\,b,urn:c`, "url@ValueSet", []Value{{String: "urn:a,b"}, {String: "urn:c"}}},
		{patient, "_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns", "_profile@Resource", []Value{{String: "http://hl7.org/fhir/StructureDefinition/vitalsigns"}}},
		{patient, "_source=http://example.org/feed", "_source@Resource", []Value{{String: "http://example.org/feed"}}},
	})
}
