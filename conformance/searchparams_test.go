package conformance

import "testing"

func TestSearchParams(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ, code, kind, expression string
	}{
		{"Observation", "code", ParamToken, "Observation.code"},
		{"Observation", "patient", ParamReference, "Observation.subject.where(resolve() is Patient)"},
		{"Observation", "date", ParamDate, "Observation.effective"},
		{"Condition", "code", ParamToken, "Condition.code"}, // narrowed from clinical-code's union
		{"Condition", "subject", ParamReference, "Condition.subject"},
		{"Patient", "name", ParamString, "Patient.name"},
		{"Patient", "_id", ParamToken, "Resource.id"},
		{"Patient", "_lastUpdated", ParamDate, "Resource.meta.lastUpdated"},
		{"Observation", "component-code-value-quantity", ParamComposite, "Observation.component"},
	}
	for _, tt := range tests {
		ps, err := spec.SearchParams(tt.typ)
		if err != nil {
			t.Fatal(err)
		}
		p := ps[tt.code]
		if p == nil {
			t.Errorf("%s has no %s", tt.typ, tt.code)
			continue
		}
		if p.Type != tt.kind || p.Expression != tt.expression {
			t.Errorf("%s.%s = %s %q, want %s %q", tt.typ, tt.code, p.Type, p.Expression, tt.kind, tt.expression)
		}
	}
	ps, _ := spec.SearchParams("Condition")
	if targets := ps["subject"].Targets; len(targets) != 2 {
		t.Errorf("Condition.subject targets %v, want Patient and Group", targets)
	}
	if ps, _ := spec.SearchParams("Patient"); ps["part-agree"] != nil {
		t.Error("the examples' part-agree parameter is registered")
	}
	if p := spec.SearchParamByURL("http://hl7.org/fhir/SearchParameter/Observation-component-value-quantity"); p == nil || p.Type != ParamQuantity {
		t.Errorf("SearchParamByURL: %+v", p)
	}
}
