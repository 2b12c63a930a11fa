package conformance_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/medbridge/medbridge/conformance"
)

func mustLoad(t testing.TB) *conformance.Spec {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestResourceTypes(t *testing.T) {
	spec := mustLoad(t)
	types := spec.ResourceTypes()
	if len(types) != 146 {
		t.Errorf("got %d resource types, want 146", len(types))
	}
	if !sort.StringsAreSorted(types) {
		t.Error("ResourceTypes is not sorted")
	}
	types[0] = "changed" // the caller's copy
	if spec.ResourceTypes()[0] == "changed" {
		t.Error("ResourceTypes returns the Spec's own slice")
	}
	tests := []struct {
		typ  string
		want bool
	}{
		{"Patient", true},
		{"Observation", true},
		{"Bundle", true},
		{"Parameters", true},
		{"MedicinalProductAuthorization", true},
		{"Resource", false},       // abstract
		{"DomainResource", false}, // abstract
		{"vitalsigns", false},     // a constraint profile
		{"patient", false},
		{"HumanName", false}, // a datatype
		{"", false},
	}
	for _, tt := range tests {
		if got := spec.IsResourceType(tt.typ); got != tt.want {
			t.Errorf("IsResourceType(%q) = %v, want %v", tt.typ, got, tt.want)
		}
		if got := slices.Contains(types, tt.typ); got != tt.want && tt.typ != types[0] {
			t.Errorf("ResourceTypes() contains %q = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestElementSets(t *testing.T) {
	spec := mustLoad(t)
	tests := []struct {
		name    string
		set     func(string) map[string]bool
		typ     string
		has     []string
		hasNot  []string
		exactly bool // has is the whole set
	}{
		{
			name: "Patient summary", set: spec.SummaryElements, typ: "Patient",
			has: []string{"id", "meta", "implicitRules", "identifier", "active", "name", "telecom", "gender",
				"birthDate", "deceased", "address", "managingOrganization", "link"},
			exactly: true,
		},
		{
			name: "Observation summary", set: spec.SummaryElements, typ: "Observation",
			has: []string{"id", "meta", "identifier", "basedOn", "partOf", "status", "code", "subject", "focus",
				"encounter", "effective", "issued", "performer", "value", "hasMember", "derivedFrom", "component"},
			hasNot: []string{"text", "category", "interpretation", "note", "referenceRange", "valueQuantity", "value[x]"},
		},
		{
			name: "Patient not summary", set: spec.SummaryElements, typ: "Patient",
			hasNot: []string{"photo", "contact", "text", "contained", "extension", "maritalStatus", "multipleBirth"},
		},
		{
			name: "Observation mandatory", set: spec.MandatoryElements, typ: "Observation",
			has: []string{"status", "code"}, exactly: true,
		},
		{
			name: "MedicationRequest mandatory", set: spec.MandatoryElements, typ: "MedicationRequest",
			has: []string{"status", "intent", "medication", "subject"}, exactly: true,
		},
		{
			name: "Patient mandatory", set: spec.MandatoryElements, typ: "Patient",
			exactly: true,
		},
		{
			name: "Observation choices", set: spec.ChoiceElements, typ: "Observation",
			has: []string{"effective", "value"}, exactly: true,
		},
		{
			name: "Patient choices", set: spec.ChoiceElements, typ: "Patient",
			has: []string{"deceased", "multipleBirth"}, exactly: true,
		},
		{
			name: "unknown type", set: spec.SummaryElements, typ: "NoSuchType",
			exactly: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.set(tt.typ)
			for _, n := range tt.has {
				if !got[n] {
					t.Errorf("missing %q", n)
				}
			}
			for _, n := range tt.hasNot {
				if got[n] {
					t.Errorf("has %q", n)
				}
			}
			if tt.exactly && len(got) != len(tt.has) {
				t.Errorf("got %d elements %v, want %d", len(got), got, len(tt.has))
			}
		})
	}
}

func TestElementSetsAreCopies(t *testing.T) {
	spec := mustLoad(t)
	spec.SummaryElements("Patient")["photo"] = true
	spec.MandatoryElements("Patient")["photo"] = true
	spec.ChoiceElements("Patient")["photo"] = true
	if spec.SummaryElements("Patient")["photo"] || spec.MandatoryElements("Patient")["photo"] || spec.ChoiceElements("Patient")["photo"] {
		t.Error("a returned map is the Spec's own")
	}
}

// Every type has summary elements, and each is one of the type's elements.
func TestSummaryElementsCoverAllTypes(t *testing.T) {
	spec := mustLoad(t)
	for _, typ := range spec.ResourceTypes() {
		elements := spec.Elements(typ)
		summary := spec.SummaryElements(typ)
		if !summary["id"] || !summary["meta"] {
			t.Errorf("%s: summary lacks id or meta: %v", typ, summary)
		}
		for n := range summary {
			if !slices.Contains(elements, n) {
				t.Errorf("%s: summary element %q is not an element", typ, n)
			}
		}
	}
}

func TestElements(t *testing.T) {
	spec := mustLoad(t)
	got := spec.Elements("Observation")
	want := []string{"id", "meta", "implicitRules", "language", "text", "contained", "extension",
		"modifierExtension", "identifier", "basedOn", "partOf", "status", "category", "code", "subject",
		"focus", "encounter", "effective", "issued", "performer", "value", "dataAbsentReason",
		"interpretation", "note", "bodySite", "method", "specimen", "device", "referenceRange",
		"hasMember", "derivedFrom", "component"}
	if !slices.Equal(got, want) {
		t.Errorf("Elements(Observation) =\n%v\nwant\n%v", got, want)
	}
}

func TestKeepFunctions(t *testing.T) {
	spec := mustLoad(t)
	tests := []struct {
		name       string
		keep       func(string) bool
		kept, gone []string
	}{
		{name: "Observation _summary=true", keep: summaryKeep(t, spec, "Observation", "true"),
			kept: []string{"status", "code", "valueQuantity", "valueString", "effectiveDateTime", "component"},
			gone: []string{"text", "category", "note", "dataAbsentReason"}},
		{name: "Observation _summary=text", keep: summaryKeep(t, spec, "Observation", "text"),
			kept: []string{"text", "status", "code"},
			gone: []string{"valueQuantity", "subject", "category"}},
		{name: "Observation _summary=data", keep: summaryKeep(t, spec, "Observation", "data"),
			kept: []string{"status", "code", "valueQuantity", "category", "note", "contained"},
			gone: []string{"text"}},
		{name: "Patient _elements=name,birthDate", keep: spec.ElementsKeep("Patient", []string{"name", "birthDate"}),
			kept: []string{"name", "birthDate"},
			gone: []string{"gender", "text", "deceasedBoolean"}},
		{name: "Observation _elements=value", keep: spec.ElementsKeep("Observation", []string{"value"}),
			kept: []string{"valueQuantity", "valueCodeableConcept", "status", "code"},
			gone: []string{"effectiveDateTime", "subject"}},
		{name: "Observation _elements=valueQuantity", keep: spec.ElementsKeep("Observation", []string{"valueQuantity"}),
			kept: []string{"valueQuantity", "status", "code"},
			gone: []string{"valueString"}},
		// instantiates is not a choice element: instantiatesCanonical is an
		// element of its own.
		{name: "NutritionOrder _elements=instantiates", keep: spec.ElementsKeep("NutritionOrder", []string{"instantiates"}),
			kept: []string{"instantiates", "status", "intent"},
			gone: []string{"instantiatesCanonical", "instantiatesUri"}},
		{name: "unknown type", keep: spec.ElementsKeep("NoSuchType", []string{"name"}),
			gone: []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range tt.kept {
				if !tt.keep(n) {
					t.Errorf("drops %q", n)
				}
			}
			for _, n := range tt.gone {
				if tt.keep(n) {
					t.Errorf("keeps %q", n)
				}
			}
		})
	}
	for _, mode := range []string{"false", "count", "", "TRUE"} {
		if _, ok := spec.SummaryKeep("Patient", mode); ok {
			t.Errorf("SummaryKeep(Patient, %q) is ok", mode)
		}
	}
	if _, ok := spec.SummaryKeep("NoSuchType", "true"); ok {
		t.Error("SummaryKeep(NoSuchType, true) is ok")
	}
}

func summaryKeep(t *testing.T, spec *conformance.Spec, typ, mode string) func(string) bool {
	t.Helper()
	keep, ok := spec.SummaryKeep(typ, mode)
	if !ok {
		t.Fatalf("SummaryKeep(%s, %s) is not ok", typ, mode)
	}
	return keep
}

func TestReadFile(t *testing.T) {
	for _, name := range []string{"search-parameters.json", "profiles-resources.json", "profiles-types.json",
		"valuesets.json", "compartment-patient.json", "vitalsigns-profiles.json", "summary-elements.json"} {
		b, err := conformance.ReadFile(name)
		if err != nil || len(b) < 1000 {
			t.Errorf("ReadFile(%s): %d bytes, %v", name, len(b), err)
		}
	}
	if _, err := conformance.ReadFile("README.md"); err == nil {
		t.Error("ReadFile(README.md) succeeded; only the JSON files are embedded")
	}
}
