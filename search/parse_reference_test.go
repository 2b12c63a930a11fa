package search

import "testing"

func TestReferenceParameter(t *testing.T) {
	qr := []string{"QuestionnaireResponse"}
	runValueCases(t, []valueCase{
		{observation, "subject=123", "subject@Observation", []Value{{RefID: "123"}}},
		{observation, "subject=Patient/123", "subject@Observation", []Value{{RefType: "Patient", RefID: "123"}}},
		{observation, "subject=Patient/123/_history/2", "subject@Observation", []Value{{RefType: "Patient", RefID: "123"}}},
		{observation, "subject=Patient/1,Group/2", "subject@Observation", []Value{{RefType: "Patient", RefID: "1"}, {RefType: "Group", RefID: "2"}}},
		{observation, "subject=http://other.org/fhir/Patient/123", "subject@Observation", []Value{{URL: "http://other.org/fhir/Patient/123"}}},
		{observation, "subject=urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "subject@Observation", []Value{{URL: "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}}},
		{observation, "subject:Patient=123", "subject@Observation:Patient", []Value{{RefType: "Patient", RefID: "123"}}},
		{observation, "subject:Patient=Patient/123", "subject@Observation:Patient", []Value{{RefType: "Patient", RefID: "123"}}},
		{observation, "subject:identifier=http://hospital.org/mrn|12345", "subject@Observation:identifier", []Value{{System: strp("http://hospital.org/mrn"), Code: "12345"}}},
		{observation, "subject:identifier=12345", "subject@Observation:identifier", []Value{{Code: "12345"}}},
		{observation, "subject:missing=true", "subject@Observation:missing=true", nil},
		{observation, "patient=p1", "patient@Observation", []Value{{RefID: "p1"}}},
		{qr, "questionnaire=http://example.org/Questionnaire/phq9|2.0", "questionnaire@QuestionnaireResponse", []Value{{URL: "http://example.org/Questionnaire/phq9", Version: "2.0"}}},
		{qr, "questionnaire=http://example.org/Questionnaire/phq9", "questionnaire@QuestionnaireResponse", []Value{{URL: "http://example.org/Questionnaire/phq9"}}},
		{qr, `questionnaire=http://example.org/Questionnaire/a\|b`, "questionnaire@QuestionnaireResponse", []Value{{URL: "http://example.org/Questionnaire/a|b"}}},
	})
	// Under the server's base, an absolute reference is a relative one.
	runValueCases(t, []valueCase{
		{observation, "subject=https://medbridge.example/fhir/Patient/123", "subject@Observation", []Value{{RefType: "Patient", RefID: "123"}}},
		{observation, "subject=https://other.example/fhir/Patient/123", "subject@Observation", []Value{{URL: "https://other.example/fhir/Patient/123"}}},
	}, Options{BaseURL: "https://medbridge.example/fhir/"})
	runErrorCases(t, []errorCase{
		{observation, "subject=Medication/1", "subject"},
		{observation, "subject=Foo/1", "subject"},
		{observation, "subject=patient/1", "subject"},
		{observation, "subject=Patient/1/2", "subject"},
		{observation, "subject=Patient/", "subject"},
		{observation, "subject:Patient=Group/1", "subject:Patient"},
		{observation, "subject=a|b|c", "subject"},
		{observation, "subject=|1", "subject"},
		{observation, "subject:identifier=a|b|c", "subject:identifier"},
		{observation, "subject:missing=1", "subject:missing"},
	})
}

func TestQuantityParameter(t *testing.T) {
	ucum := strp("http://unitsofmeasure.org")
	dump := "value-quantity@Observation"
	runValueCases(t, []valueCase{
		{observation, "value-quantity=5.4|http://unitsofmeasure.org|mg", dump, []Value{{Prefix: Eq, String: "5.4", Number: 5.4, Low: 5.35, High: 5.45, System: ucum, Code: "mg"}}},
		{observation, "value-quantity=gt5.4|http://unitsofmeasure.org|mg", dump, []Value{{Prefix: Gt, String: "5.4", Number: 5.4, Low: 5.35, High: 5.45, System: ucum, Code: "mg"}}},
		{observation, "value-quantity=5.4||mg", dump, []Value{{Prefix: Eq, String: "5.4", Number: 5.4, Low: 5.35, High: 5.45, Code: "mg"}}},
		{observation, "value-quantity=le5.4", dump, []Value{{Prefix: Le, String: "5.4", Number: 5.4, Low: 5.35, High: 5.45}}},
		{observation, "value-quantity=100|http://unitsofmeasure.org|mm%5BHg%5D", dump, []Value{{Prefix: Eq, String: "100", Number: 100, Low: 99.5, High: 100.5, System: ucum, Code: "mm[Hg]"}}},
		{observation, `value-quantity=1e2||a\|b`, dump, []Value{{Prefix: Eq, String: "1e2", Number: 100, Low: 50, High: 150, Code: "a|b"}}},
		{observation, "value-quantity=ap5,ge10||mg", dump, []Value{
			{Prefix: Ap, String: "5", Number: 5, Low: 4.5, High: 5.5},
			{Prefix: Ge, String: "10", Number: 10, Low: 9.5, High: 10.5, Code: "mg"},
		}},
		{observation, "value-quantity:missing=true", "value-quantity@Observation:missing=true", nil},
	})
	runErrorCases(t, []errorCase{
		{observation, "value-quantity=5.4|mg", "value-quantity"},
		{observation, "value-quantity=5.4|a|b|c", "value-quantity"},
		{observation, "value-quantity=abc", "value-quantity"},
		{observation, "value-quantity=xx5", "value-quantity"},
		{observation, "value-quantity=||mg", "value-quantity"},
		{observation, "value-quantity=5mg", "value-quantity"},
	})
}
