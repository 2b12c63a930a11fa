package conformance_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

// TestOperationDefinitions parses every OperationDefinition with the codec
// (valid R4) and checks what the CapabilityStatement and the harness rely
// on: the server's url, R4's base, the code and where it runs.
func TestOperationDefinitions(t *testing.T) {
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://fhir.example.org/r4/"
	defs, err := conformance.OperationDefinitions(base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		code, base, resource string
		typ, instance        bool
		in, out              []string
	}{
		conformance.OperationLastN: {"lastn", "http://hl7.org/fhir/OperationDefinition/Observation-lastn", "Observation", true, false,
			[]string{"max"}, []string{"return"}},
		conformance.OperationStats: {"stats", "http://hl7.org/fhir/OperationDefinition/Observation-stats", "Observation", true, false,
			[]string{"subject", "patient", "code", "system", "coding", "duration", "period", "statistic"}, []string{"statistics"}},
		conformance.OperationValidate: {"validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate", "Resource", true, true,
			[]string{"resource", "mode", "profile"}, []string{"return"}},
	}
	if len(defs) != len(want) {
		t.Errorf("%d definitions, want %d", len(defs), len(want))
	}
	for _, d := range defs {
		t.Run(d.ID, func(t *testing.T) {
			w, ok := want[d.ID]
			if !ok {
				t.Fatalf("unexpected definition %s", d.ID)
			}
			p, err := codec.Parse(d.JSON)
			if err != nil {
				t.Fatalf("not valid R4: %v\n%s", err, d.JSON)
			}
			if p.Type != "OperationDefinition" || p.ID() != d.ID {
				t.Errorf("parsed as %s/%s", p.Type, p.ID())
			}
			var got conformance.OperationDefinitionJSON
			if err := json.Unmarshal(d.JSON, &got); err != nil {
				t.Fatal(err)
			}
			if got.URL != "https://fhir.example.org/r4/OperationDefinition/"+d.ID || d.URL != got.URL {
				t.Errorf("url %q (field %q), want the server's canonical", got.URL, d.URL)
			}
			if got.Status != "active" || got.Kind != "operation" || got.AffectsState || got.System {
				t.Errorf("status %q kind %q affectsState %v system %v", got.Status, got.Kind, got.AffectsState, got.System)
			}
			if got.Code != w.code || got.Base != w.base || !slices.Equal(got.Resource, []string{w.resource}) ||
				got.Type != w.typ || got.Instance != w.instance {
				t.Errorf("code %q base %q resource %v type %v instance %v", got.Code, got.Base, got.Resource, got.Type, got.Instance)
			}
			var in, out []string
			for _, p := range got.Parameter {
				switch p.Use {
				case "in":
					in = append(in, p.Name)
				case "out":
					out = append(out, p.Name)
				}
			}
			if !slices.Equal(in, w.in) || !slices.Equal(out, w.out) {
				t.Errorf("parameters in %v out %v, want in %v out %v", in, out, w.in, w.out)
			}
			if d.LastUpdated.IsZero() {
				t.Error("no LastUpdated")
			}
		})
	}
}

func TestOperationDefinitionAppliesTo(t *testing.T) {
	for _, tt := range []struct {
		resource []string
		typ      string
		want     bool
	}{
		{[]string{"Observation"}, "Observation", true},
		{[]string{"Observation"}, "Patient", false},
		{[]string{"Resource"}, "Bundle", true},
		{[]string{"DomainResource"}, "Patient", true},
		{[]string{"DomainResource"}, "Bundle", false},
		{nil, "Patient", false},
	} {
		d := conformance.OperationDefinitionJSON{Resource: tt.resource}
		if got := d.AppliesTo(tt.typ); got != tt.want {
			t.Errorf("%v AppliesTo(%s) = %v, want %v", tt.resource, tt.typ, got, tt.want)
		}
	}
}
