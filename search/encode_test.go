package search

import (
	"net/url"
	"reflect"
	"testing"
)

// ParseQuery(Encode(q)) == q for queries using every feature.
func TestEncodeRoundTrip(t *testing.T) {
	const gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
	tests := []struct {
		types []string
		query string
	}{
		{observation, ""},
		{observation, "code=http://loinc.org|8867-4,|x,y,http://snomed.info/sct|&status:not=final&code:text=heart%20rate"},
		{observation, `code=a\,b|c\|d\$e\\f`},
		{patient, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|1\\|2&gender:in=" + gender + "&gender:not-in=" + gender + "|4.0.1"},
		{patient, "name=pet,Paul&name:exact=Peter&name:contains=ete&family:missing=true&_id=1,2&_lastUpdated=gt2026-03-04T10:00:00%2B01:00"},
		{patient, "birthdate=2026&birthdate=ne2026-02&birthdate=le2026-03-04&birthdate=ap2026-03-04T10:00Z&birthdate=2026-03-04T10:00:00.120Z"},
		{[]string{"RiskAssessment"}, "probability=100,1e2,1.0e2,gt100.00,-0.5,%2B7,1E-3"},
		{observation, "value-quantity=5.4|http://unitsofmeasure.org|mg,le5.4||mg,ap5,1e2||a\\|b"},
		{observation, "subject=123,Patient/1,Patient/2/_history/3,http://other/fhir/Patient/4,urn:uuid:abc&subject:Patient=7&subject:identifier=http://x|1,2"},
		{[]string{"QuestionnaireResponse"}, "questionnaire=http://x/Questionnaire/q|1.0,http://x/Questionnaire/r"},
		{observation, "component-code-value-quantity=http://loinc.org|8480-6$gt140|http://unitsofmeasure.org|mm%5BHg%5D&code-value-string=x$a\\$b&code-value-date=x$ge2026"},
		{[]string{"MolecularSequence"}, "chromosome-variant-coordinate=1$gt5$lt10.0"},
		{[]string{"ValueSet"}, "url:below=http://hl7.org/fhir/&url=http://x\\,y"},
		{observation, "subject:Patient.name=peter&patient.identifier=http://x|42&subject.organization.name=acme&subject:Patient.general-practitioner.name=smith"},
		{observation, "subject:Patient.organization:Organization.name:exact=Acme&subject:Patient.birthdate:missing=true"},
		{patient, "_has:Observation:patient:code=1234-5&_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1&_has:Observation:patient:performer:Practitioner.name=x"},
		{observation, "_sort=-date,status&_count=7&_total=accurate&_summary=data&_elements=status,code"},
		{observation, "_summary=count"},
		{observation, "_include=Observation:subject:Patient&_include=*&_include=Observation:*&_include:iterate=Patient:organization&_revinclude=Provenance:target&_revinclude:iterate=Observation:has-member"},
		{nil, "_type=Patient,Observation&_id=1&_sort=-_lastUpdated"},
		{nil, "_has:Observation:patient:code=x"},
		{nil, ""},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query, Options{Strict: true})
		enc := q.Encode()
		back, err := ParseQuery(loadSpec(t), tt.types, enc, Options{Strict: true})
		if err != nil {
			t.Errorf("%s: encoded as %s: %v", tt.query, enc.Encode(), err)
			continue
		}
		if !reflect.DeepEqual(q, back) {
			t.Errorf("%s: encoded as %s, parsed back differently:\n got %+v\nwant %+v", tt.query, enc.Encode(), back, q)
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		types []string
		query string
		want  url.Values
	}{
		{observation, "", url.Values{"_count": {"20"}}},
		{observation, "_page_token=abc&foo=1", url.Values{"_count": {"20"}}},
		{observation, "date=eq2026-03-04T10:00:00%2B01:00&date=gt2026", url.Values{
			"date": {"2026-03-04T09:00:00Z", "gt2026"}, "_count": {"20"},
		}},
		{observation, `code=a\,b|c&code:text=x,y`, url.Values{
			"code": {`a\,b|c`}, "code:text": {"x,y"}, "_count": {"20"},
		}},
		{observation, "subject:Patient=Patient/1&subject=Patient/2", url.Values{
			"subject:Patient": {"1"}, "subject": {"Patient/2"}, "_count": {"20"},
		}},
		{observation, "patient.identifier=a|b", url.Values{"patient.identifier": {"a|b"}, "_count": {"20"}}},
		{observation, "_include:recurse=Patient:organization&_include=Patient:link:iterate", url.Values{
			"_include:iterate": {"Patient:link", "Patient:organization"}, "_count": {"20"},
		}},
		{nil, "_type=Patient", url.Values{"_type": {"Patient"}, "_count": {"20"}}},
		{patient, "_summary=count", url.Values{"_summary": {"count"}, "_count": {"0"}}},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query)
		if got := q.Encode(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Encode() = %v, want %v", tt.query, got, tt.want)
		}
	}
}
