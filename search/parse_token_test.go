package search

import "testing"

func TestTokenParameter(t *testing.T) {
	const gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
	runValueCases(t, []valueCase{
		{observation, "code=8867-4", "code@Observation", []Value{{Code: "8867-4"}}},
		{observation, "code=http://loinc.org|8867-4", "code@Observation", []Value{{System: strp("http://loinc.org"), Code: "8867-4"}}},
		{observation, "code=|8867-4", "code@Observation", []Value{{System: strp(""), Code: "8867-4"}}},
		{observation, "code=http://loinc.org|", "code@Observation", []Value{{System: strp("http://loinc.org")}}},
		{observation, "code=a,http://loinc.org|b", "code@Observation", []Value{{Code: "a"}, {System: strp("http://loinc.org"), Code: "b"}}},
		{observation, "code:text=heart%20rate", "code@Observation:text", []Value{{String: "heart rate"}}},
		{observation, "code:text=a|b", "code@Observation:text", []Value{{String: "a|b"}}},
		{observation, "status:not=final", "status@Observation:not", []Value{{Code: "final"}}},
		{observation, "code:not=http://loinc.org|8867-4", "code@Observation:not", []Value{{System: strp("http://loinc.org"), Code: "8867-4"}}},
		{patient, "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345", "identifier@Patient:of-type",
			[]Value{{System: strp("http://terminology.hl7.org/CodeSystem/v2-0203"), Code: "MR", Value: "12345"}}},
		{patient, "gender:in=" + gender, "gender@Patient:in", []Value{{URL: gender}}},
		{patient, "gender:in=" + gender + "|4.0.1", "gender@Patient:in", []Value{{URL: gender + "|4.0.1"}}},
		{patient, "gender:not-in=" + gender, "gender@Patient:not-in", []Value{{URL: gender}}},
		{patient, "identifier=urn:oid:1.2.3|42", "identifier@Patient", []Value{{System: strp("urn:oid:1.2.3"), Code: "42"}}},
		{patient, "_id=a,b", "_id@Resource", []Value{{Code: "a"}, {Code: "b"}}},
		{patient, "_id:not=a", "_id@Resource:not", []Value{{Code: "a"}}},
		{patient, "_tag=http://example.org/tags|t1", "_tag@Resource", []Value{{System: strp("http://example.org/tags"), Code: "t1"}}},
		{patient, "_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R", "_security@Resource",
			[]Value{{System: strp("http://terminology.hl7.org/CodeSystem/v3-Confidentiality"), Code: "R"}}},
		{patient, "active:missing=true", "active@Patient:missing=true", nil},
	})
	runErrorCases(t, []errorCase{
		{observation, "code=|", "code"},
		{observation, "code=a|b|c", "code"},
		{patient, "identifier:of-type=a|b", "identifier:of-type"},
		{patient, "identifier:of-type=a||c", "identifier:of-type"},
		{patient, "identifier:of-type=a|b|", "identifier:of-type"},
		{patient, "identifier:of-type=a|b|c|d", "identifier:of-type"},
		{patient, "gender:in=http://example.org/ValueSet/unknown", "gender:in"},
		{patient, "gender:in=" + gender + "|3.0.0", "gender:in"},
		{[]string{"DocumentReference"}, "contenttype:in=http://hl7.org/fhir/ValueSet/mimetypes", "contenttype:in"},
	})
}
