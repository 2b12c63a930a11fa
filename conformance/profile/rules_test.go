package profile

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

func TestEqualAndContains(t *testing.T) {
	tests := []struct {
		value, pattern  string
		equal, contains bool
	}{
		{`"a"`, `"a"`, true, true},
		{`"a"`, `"b"`, false, false},
		{`1.0`, `1`, true, true},
		{`true`, `true`, true, true},
		{`{"system": "s", "code": "c", "display": "d"}`, `{"system": "s", "code": "c"}`, false, true},
		{`{"system": "s"}`, `{"system": "s", "code": "c"}`, false, false},
		{`{"coding": [{"system": "x"}, {"system": "s", "code": "c"}]}`, `{"coding": [{"system": "s", "code": "c"}]}`, false, true},
		{`{"coding": [{"system": "x", "code": "c"}, {"system": "s"}]}`, `{"coding": {"system": "s", "code": "c"}}`, false, false},
		{`["a", "b"]`, `["b"]`, false, true},
		{`["a", "b"]`, `["a", "b"]`, true, true},
	}
	for _, tt := range tests {
		var v, p any
		if err := decode([]byte(tt.value), &v); err != nil {
			t.Fatal(err)
		}
		if err := decode([]byte(tt.pattern), &p); err != nil {
			t.Fatal(err)
		}
		if got := fhir.JSONEqual(v, p); got != tt.equal {
			t.Errorf("equal(%s, %s) = %v", tt.value, tt.pattern, got)
		}
		if got := contains(v, p); got != tt.contains {
			t.Errorf("contains(%s, %s) = %v", tt.value, tt.pattern, got)
		}
	}
}

// ruleProfile constrains Patient with a fixed value, a pattern, a closed
// slicing by pattern with slice cardinalities and a required binding.
const ruleProfile = `{
  "url": "http://example.org/StructureDefinition/rules", "name": "rules", "type": "Patient",
  "kind": "resource", "derivation": "constraint",
  "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
  "snapshot": {"element": [
    {"id": "Patient", "path": "Patient", "min": 0, "max": "*",
     "constraint": [{"key": "r-1", "severity": "error", "human": "a name or an identifier", "expression": "name.exists() or identifier.exists()"}]},
    {"id": "Patient.active", "path": "Patient.active", "min": 1, "max": "1", "type": [{"code": "boolean"}], "fixedBoolean": true},
    {"id": "Patient.gender", "path": "Patient.gender", "min": 0, "max": "1", "type": [{"code": "code"}],
     "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"}},
    {"id": "Patient.maritalStatus", "path": "Patient.maritalStatus", "min": 0, "max": "1", "type": [{"code": "CodeableConcept"}],
     "patternCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"}]}},
    {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1, "max": "3", "type": [{"code": "Identifier"}],
     "slicing": {"discriminator": [{"type": "pattern", "path": "type"}, {"type": "value", "path": "system"}], "rules": "closed"}},
    {"id": "Patient.identifier:mrn", "path": "Patient.identifier", "min": 1, "max": "1", "type": [{"code": "Identifier"}]},
    {"id": "Patient.identifier:mrn.type", "path": "Patient.identifier.type", "min": 1, "max": "1", "type": [{"code": "CodeableConcept"}],
     "patternCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}},
    {"id": "Patient.identifier:mrn.system", "path": "Patient.identifier.system", "min": 1, "max": "1", "type": [{"code": "uri"}], "fixedUri": "urn:mrn"},
    {"id": "Patient.identifier:mrn.value", "path": "Patient.identifier.value", "min": 1, "max": "1", "type": [{"code": "string"}]},
    {"id": "Patient.identifier:ssn", "path": "Patient.identifier", "min": 0, "max": "1", "type": [{"code": "Identifier"}]},
    {"id": "Patient.identifier:ssn.type", "path": "Patient.identifier.type", "min": 0, "max": "1", "type": [{"code": "CodeableConcept"}],
     "patternCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}},
    {"id": "Patient.identifier:ssn.system", "path": "Patient.identifier.system", "min": 1, "max": "1", "type": [{"code": "uri"}], "fixedUri": "urn:ssn"},
    {"id": "Patient.name", "path": "Patient.name", "min": 0, "max": "*", "type": [{"code": "HumanName"}]},
    {"id": "Patient.contact", "path": "Patient.contact", "min": 0, "max": "*", "type": [{"code": "BackboneElement"}]},
    {"id": "Patient.contact.gender", "path": "Patient.contact.gender", "min": 1, "max": "1", "type": [{"code": "code"}]}
  ]}
}`

const mrn = `{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "system": "urn:mrn", "value": "1"}`

func TestRules(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(spec) // its own: the profile is added to it
	if err != nil {
		t.Fatal(err)
	}
	var sd sdJSON
	if err := json.Unmarshal([]byte(ruleProfile), &sd); err != nil {
		t.Fatal(err)
	}
	s, err := v.build(&sd)
	if err != nil {
		t.Fatal(err)
	}
	v.structures[s.url] = s
	if gaps := v.link(); !slices.Equal(gaps, validator(t).Unchecked()) {
		t.Errorf("the rule profile adds gaps: %v", gaps)
	}
	tests := []struct {
		name, resource string
		code, expr     string // "" for a conforming resource
	}{
		{"conforms", `{"active": true, "identifier": [` + mrn + `], "gender": "female",
			"maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}], "text": "married"}}`, "", ""},
		{"missing fixed element", `{"identifier": [` + mrn + `]}`, fhir.CodeRequired, "Patient.active"},
		{"fixed value differs", `{"active": false, "identifier": [` + mrn + `]}`, fhir.CodeValue, "Patient.active"},
		{"pattern not contained", `{"active": true, "identifier": [` + mrn + `], "maritalStatus": {"coding": [{"system": "http://example.org", "code": "M"}]}}`,
			fhir.CodeValue, "Patient.maritalStatus"},
		{"required binding", `{"active": true, "identifier": [` + mrn + `], "gender": "f"}`, codeCodeInvalid, "Patient.gender"},
		{"too many", `{"active": true, "identifier": [` + mrn + `,` + mrn + `,` + mrn + `,` + mrn + `]}`, fhir.CodeStructure, "Patient.identifier"},
		{"slice max", `{"active": true, "identifier": [` + mrn + `,` + mrn + `]}`, fhir.CodeStructure, "Patient.identifier"},
		{"slice min", `{"active": true, "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}, "system": "urn:ssn"}]}`,
			fhir.CodeRequired, "Patient.identifier"},
		{"closed slicing", `{"active": true, "identifier": [` + mrn + `, {"system": "urn:other", "value": "2"}]}`, fhir.CodeStructure, "Patient.identifier[1]"},
		{"inside a slice", `{"active": true, "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "system": "urn:mrn"}]}`,
			fhir.CodeRequired, "Patient.identifier[0].value"},
		{"inside a backbone element", `{"active": true, "identifier": [` + mrn + `], "contact": [{"name": {"text": "x"}}]}`, fhir.CodeRequired, "Patient.contact[0].gender"},
		{"inside a datatype", `{"active": true, "identifier": [` + mrn + `], "name": [{"use": "nick"}]}`, codeCodeInvalid, "Patient.name[0].use"},
		{"datatype cardinality", `{"active": true, "identifier": [` + mrn + `], "name": [{"family": "a"}],
			"photo": [{"contentType": "image/png"}], "managingOrganization": {"reference": "Organization/1", "identifier": {"system": "s"}}}`, "", ""},
		{"profile invariant", `{"active": true, "identifier": []}`, fhir.CodeInvariant, "Patient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := `{"resourceType": "Patient", ` + tt.resource[1:]
			issues, err := v.Validate(s.url, []byte(res))
			if err != nil {
				t.Fatal(err)
			}
			errs := errorIssues(issues)
			if tt.code == "" {
				if len(errs) > 0 {
					t.Fatalf("want no errors, got %v", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(is fhir.Issue) bool { return is.Code == tt.code && slices.Contains(is.Expression, tt.expr) }) {
				t.Fatalf("no %s error at %s; got %v", tt.code, tt.expr, issues)
			}
		})
	}
}

func TestBaseRules(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name, resource string
		code, expr     string
	}{
		{"type profile (SimpleQuantity has no comparator)",
			`{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "referenceRange": [{"low": {"value": 1, "comparator": "<"}}]}`,
			fhir.CodeStructure, "Observation.referenceRange[0].low.comparator"},
		{"datatype invariant inherited from a complete snapshot (ext-1)",
			`{"resourceType": "Patient", "extension": [{"url": "http://example.org/x"}]}`, fhir.CodeInvariant, "Patient.extension[0]"},
		{"resource invariant inherited from a complete snapshot (obs-6)",
			`{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueString": "a", "dataAbsentReason": {"text": "b"}}`,
			fhir.CodeInvariant, "Observation"},
		{"DomainResource invariant on a contained resource (dom-2)",
			`{"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "a", "contained": [{"resourceType": "Patient", "id": "b"}]}]}`,
			fhir.CodeInvariant, "Patient"},
		{"contained resource against its own definition",
			`{"resourceType": "Patient", "contained": [{"resourceType": "Observation", "id": "a", "code": {"text": "x"}}]}`,
			fhir.CodeRequired, "Patient.contained[0].status"},
		{"bundle entry against its own definition",
			`{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Observation", "status": "bogus", "code": {"text": "x"}}}]}`,
			codeCodeInvalid, "Bundle.entry[0].resource.status"},
		{"primitive array with extensions only",
			`{"resourceType": "Patient", "name": [{"given": ["a", null], "_given": [null, {"extension": [{"url": "http://example.org/x", "valueString": "b"}]}]}]}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues, err := v.Validate("", []byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			errs := errorIssues(issues)
			if tt.code == "" {
				if len(errs) > 0 {
					t.Fatalf("want no errors, got %v", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(is fhir.Issue) bool { return is.Code == tt.code && slices.Contains(is.Expression, tt.expr) }) {
				t.Fatalf("no %s error at %s; got %v", tt.code, tt.expr, issues)
			}
		})
	}
}
