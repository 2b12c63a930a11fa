package harness

import (
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

func TestDeriveValues(t *testing.T) {
	day := int64(86_400_000_000) // microseconds
	jan1 := int64(1_704_067_200_000_000)
	tests := []struct {
		name    string
		typ     string
		entries []storage.IndexEntry
		want    Values
	}{
		{"no entries", conformance.ParamToken, nil, Values{}},
		{"token with system", conformance.ParamToken,
			[]storage.IndexEntry{{Code: ""}, {System: "http://loinc.org", Code: "8867-4"}},
			Values{"http://loinc.org|8867-4", "http://loinc.org|x-harness-nomatch"}},
		{"token escapes", conformance.ParamToken, []storage.IndexEntry{{Code: "a,b|c$d"}}, Values{`a\,b\|c\$d`, "x-harness-nomatch"}},
		{"boolean true", conformance.ParamToken, []storage.IndexEntry{{Code: "true"}}, Values{"true", "false"}},
		{"boolean both", conformance.ParamToken, []storage.IndexEntry{{Code: "true"}, {Code: "false"}}, Values{"true", ""}},
		{"token text only", conformance.ParamToken, []storage.IndexEntry{{Text: "x"}}, Values{"", "x-harness-nomatch"}},
		{"string", conformance.ParamString, []storage.IndexEntry{{Exact: " Chalmers ", Norm: "chalmers"}}, Values{"Chalmers", "x-harness-nomatch-zq"}},
		{"long string is a prefix", conformance.ParamString,
			[]storage.IndexEntry{{Exact: "0123456789012345678901234567890123456789012345678901234567890123456789"}},
			Values{"012345678901234567890123456789012345678901234567890123456789", "x-harness-nomatch-zq"}},
		{"uri", conformance.ParamURI, []storage.IndexEntry{{Exact: "http://example.org/fhir/ValueSet/x"}},
			Values{"http://example.org/fhir/ValueSet/x", "urn:x-harness-nomatch"}},
		{"reference", conformance.ParamReference, []storage.IndexEntry{{RefType: "Patient", RefID: "example"}},
			Values{"Patient/example", "Patient/x-harness-nomatch"}},
		{"canonical", conformance.ParamReference, []storage.IndexEntry{{URL: "http://hl7.org/fhir/Questionnaire/q|1.0"}},
			Values{`http://hl7.org/fhir/Questionnaire/q\|1.0`, "http://example.org/x-harness-nomatch"}},
		{"date", conformance.ParamDate, []storage.IndexEntry{{Start: jan1, End: jan1 + day}},
			Values{"ge2023-12-30T00:00:00Z", "ge2024-01-04T00:00:00Z"}},
		{"date open end", conformance.ParamDate, []storage.IndexEntry{{Start: jan1, End: storage.MaxTime}},
			Values{"ge2023-12-30T00:00:00Z", "le2023-12-30T00:00:00Z"}},
		{"date open start", conformance.ParamDate, []storage.IndexEntry{{Start: storage.MinTime, End: jan1}},
			Values{"le2024-01-03T00:00:00Z", "ge2024-01-03T00:00:00Z"}},
		{"date open both", conformance.ParamDate, []storage.IndexEntry{{Start: storage.MinTime, End: storage.MaxTime}}, Values{}},
		{"number", conformance.ParamNumber, []storage.IndexEntry{{Number: 2.5, Low: 2.45, High: 2.55}, {Number: 7, Low: 6.5, High: 7.5}},
			Values{"2.5", "1007"}},
		{"quantity", conformance.ParamQuantity, []storage.IndexEntry{{Number: 107, High: 107.5, System: "http://unitsofmeasure.org", Code: "mm[Hg]"}},
			Values{"107|http://unitsofmeasure.org|mm[Hg]", "1107|http://unitsofmeasure.org|mm[Hg]"}},
		{"quantity without unit", conformance.ParamQuantity, []storage.IndexEntry{{Number: 3, High: 3.5}}, Values{"3", "1003"}},
		{"composite", conformance.ParamComposite, []storage.IndexEntry{{Components: []storage.IndexEntry{
			{Type: conformance.ParamToken, System: "http://loinc.org", Code: "8480-6"},
			{Type: conformance.ParamQuantity, Number: 107, High: 107.5},
		}}}, Values{"http://loinc.org|8480-6$107", "http://loinc.org|x-harness-nomatch$107"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DeriveValues(tt.typ, tt.entries); got != tt.want {
				t.Errorf("DeriveValues = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSearchable(t *testing.T) {
	entries := []storage.IndexEntry{
		{URL: "#p1"},
		{URL: "ActivityDefinition/x"}, // a relative canonical
		{RefType: "OperationOutcome", RefID: "w"},
		{RefType: "Composition", RefID: "c"},
		{URL: "http://example.org/fhir/Library/l"},
	}
	got := Searchable(conformance.ParamReference, entries, []string{"Composition"})
	if len(got) != 2 || got[0].RefID != "c" || got[1].URL != "http://example.org/fhir/Library/l" {
		t.Errorf("Searchable = %+v, want Composition/c and the absolute URL", got)
	}
	if got := Searchable(conformance.ParamToken, entries, nil); len(got) != len(entries) {
		t.Errorf("Searchable drops %d non-reference entries", len(entries)-len(got))
	}
}

func TestPlaceholder(t *testing.T) {
	tests := []struct {
		typ                 string
		targets, components []string
		want                string
	}{
		{conformance.ParamToken, nil, nil, "urn:x-harness-nomatch|x-harness-nomatch"},
		{conformance.ParamReference, []string{"Patient", "Group"}, nil, "Patient/x-harness-nomatch"},
		{conformance.ParamDate, nil, nil, "1001-01-01"},
		{conformance.ParamComposite, nil, []string{"token", "quantity"}, "urn:x-harness-nomatch|x-harness-nomatch$-987654321"},
		{conformance.ParamComposite, nil, nil, ""},
		{conformance.ParamSpecial, nil, nil, ""},
	}
	for _, tt := range tests {
		if got := Placeholder(tt.typ, tt.targets, tt.components); got != tt.want {
			t.Errorf("Placeholder(%s, %v, %v) = %q, want %q", tt.typ, tt.targets, tt.components, got, tt.want)
		}
	}
}

// TestValuesFromFixtures derives values from real fixtures with the
// extractor: the Observation's code selects it, a Patient's birthdate
// bounds it.
func TestValuesFromFixtures(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	x, err := storage.NewExtractor(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{spec: spec, extractor: x}
	for _, tt := range []struct{ typ, param, typOf, match string }{
		{"Observation", "code", conformance.ParamToken, "http://loinc.org|85354-9"},
		{"Patient", "birthdate", conformance.ParamDate, "ge1944-11-15T00:00:00Z"},
		{"Patient", "family", conformance.ParamString, "van de Heuvel"},
	} {
		body, ok := fixture(tt.typ, "", "t")
		if !ok {
			t.Fatalf("no %s fixture", tt.typ)
		}
		v := DeriveValues(tt.typOf, r.entries(tt.typ, body)[tt.param])
		if v.Match != tt.match || v.NoMatch == "" {
			t.Errorf("%s %s: %+v, want match %q and a non-matching value", tt.typ, tt.param, v, tt.match)
		}
	}
}
