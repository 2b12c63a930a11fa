package conformance

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

var compartmentOwners = []string{"Device", "Encounter", "Patient", "Practitioner", "RelatedPerson"}

func TestCompartment(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadCompartments()
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(c)); !slices.Equal(got, compartmentOwners) {
		t.Errorf("owners %v, want %v", got, compartmentOwners)
	}
	tests := []struct {
		owner, typ string
		want       []string
	}{
		{"Patient", "Observation", []string{"subject", "performer"}},
		{"Patient", "Patient", []string{"link"}}, // linked patients; no {def} in R4
		{"Patient", "Encounter", []string{"patient"}},
		{"Patient", "Organization", nil},
		{"Encounter", "Observation", []string{"encounter"}},
		{"Encounter", "Encounter", []string{CompartmentSelf}},
		{"Device", "Observation", []string{"subject", "device"}},
		{"Device", "Device", nil},
		{"RelatedPerson", "Observation", []string{"performer"}},
		{"RelatedPerson", "RelatedPerson", []string{CompartmentSelf}},
		{"Practitioner", "Observation", []string{"performer"}},
		{"Practitioner", "Practitioner", []string{CompartmentSelf}},
		{"Practitioner", "Patient", []string{"general-practitioner"}},
		{"Organization", "Observation", nil},
		{"patient", "Observation", nil}, // case-sensitive
	}
	for _, tt := range tests {
		if got := spec.CompartmentParams(tt.owner, tt.typ); !slices.Equal(got, tt.want) {
			t.Errorf("CompartmentParams(%s, %s) = %q, want %q", tt.owner, tt.typ, got, tt.want)
		}
		m, ok := spec.Compartment(tt.owner)
		if ok != slices.Contains(compartmentOwners, tt.owner) {
			t.Errorf("Compartment(%s) ok = %v", tt.owner, ok)
		}
		if got := m[tt.typ]; !slices.Equal(got, tt.want) {
			t.Errorf("Compartment(%s)[%s] = %q, want %q", tt.owner, tt.typ, got, tt.want)
		}
	}
	sizes := map[string]int{"Device": 32, "Encounter": 25, "Patient": 66, "Practitioner": 59, "RelatedPerson": 32}
	for owner, n := range sizes {
		if m, _ := spec.Compartment(owner); len(m) != n {
			t.Errorf("%s compartment has %d types, want %d", owner, len(m), n)
		}
	}
}

func TestCompartmentIsCopy(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := spec.Compartment("Patient")
	m["Observation"][0] = "changed"
	delete(m, "Condition")
	p := spec.CompartmentParams("Patient", "Observation")
	p[1] = "changed"
	m, _ = spec.Compartment("Patient")
	if !slices.Equal(m["Observation"], []string{"subject", "performer"}) || m["Condition"] == nil {
		t.Errorf("Compartment shares its data with callers: %q, %q", m["Observation"], m["Condition"])
	}
}

// Every parameter code of every compartment (but {def}) is a reference
// search parameter of its type that can point at the owner.
func TestCompartmentParamsExist(t *testing.T) {
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range compartmentOwners {
		m, _ := spec.Compartment(owner)
		for typ, codes := range m {
			if !spec.IsResourceType(typ) {
				t.Errorf("%s compartment: %s is not a resource type", owner, typ)
				continue
			}
			if len(codes) == 0 {
				t.Errorf("%s compartment: %s has no params", owner, typ)
			}
			params, err := spec.SearchParams(typ)
			if err != nil {
				t.Fatal(err)
			}
			for _, code := range codes {
				if code == CompartmentSelf {
					if typ != owner {
						t.Errorf("%s compartment: %s on %s", owner, code, typ)
					}
					continue
				}
				p := params[code]
				switch {
				case p == nil:
					t.Errorf("%s compartment: %s.%s is not a search parameter", owner, typ, code)
				case p.Type != ParamReference:
					t.Errorf("%s compartment: %s.%s is a %s parameter", owner, typ, code, p.Type)
				case len(p.Targets) > 0 && !slices.Contains(p.Targets, owner):
					t.Errorf("%s compartment: %s.%s targets %v", owner, typ, code, p.Targets)
				}
			}
		}
	}
}

// compartments.json's Patient compartment is the published
// CompartmentDefinition/patient, which compartment-patient.json holds as is.
func TestCompartmentMatchesPatientDefinition(t *testing.T) {
	raw, err := ReadFile("compartment-patient.json")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		Code     string `json:"code"`
		Resource []struct {
			Code  string   `json:"code"`
			Param []string `json:"param"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, r := range def.Resource {
		if len(r.Param) > 0 {
			want[r.Code] = r.Param
		}
	}
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := spec.Compartment(def.Code)
	if !ok || !maps.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("Compartment(%s) differs from compartment-patient.json:\n got %v\nwant %v", def.Code, got, want)
	}
}
