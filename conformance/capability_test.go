package conformance_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var date = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

func patientCapability() conformance.TypeCapability {
	return conformance.TypeCapability{
		Type:              "Patient",
		Profile:           "http://hl7.org/fhir/StructureDefinition/Patient",
		Interactions:      []string{"read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type"},
		Versioning:        "versioned",
		ReadHistory:       true,
		UpdateCreate:      true,
		ConditionalCreate: true,
		ConditionalDelete: "single",
		ReferencePolicy:   []string{"literal"},
		SearchRevIncludes: []string{"Observation:subject"},
		SearchParams: []conformance.SearchParamCapability{
			{Name: "birthdate", Type: "date", Definition: "http://hl7.org/fhir/SearchParameter/individual-birthdate"},
			{Name: "name", Type: "string", Definition: "http://hl7.org/fhir/SearchParameter/Patient-name",
				Documentation: "Matches the start of any name part, ignoring case & accents <b>not</b> HTML."},
		},
		Operations: []conformance.OperationCapability{
			{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
		},
	}
}

func fullOptions() conformance.CapabilityOptions {
	return conformance.CapabilityOptions{
		BaseURL:  "https://fhir.example.org/r4",
		Software: "medbridge",
		Version:  "0.1.0",
		Name:     "MedbridgeCapabilityStatement",
		Date:     date,
		Formats:  []string{"json", "application/fhir+json", "application/json"},
		Types: []conformance.TypeCapability{
			{
				Type:         "Observation",
				Interactions: []string{"read", "search-type", "create"},
				Versioning:   "versioned",
				SearchParams: []conformance.SearchParamCapability{{Name: "code", Type: "token"}},
			},
			patientCapability(),
		},
		SystemInteractions: []string{"transaction", "batch", "search-system", "history-system"},
		SystemSearchParams: []conformance.SearchParamCapability{{Name: "_lastUpdated", Type: "date"}},
		Compartments:       []string{"http://hl7.org/fhir/CompartmentDefinition/patient"},
		Security: &conformance.SecurityCapability{
			CORS:        true,
			Services:    []string{"SMART-on-FHIR"},
			Description: "OAuth2 bearer tokens",
			OAuthURIs: map[string]string{
				"authorize": "https://fhir.example.org/auth/authorize",
				"token":     "https://fhir.example.org/auth/oauth/token",
			},
		},
	}
}

func TestCapabilityStatement(t *testing.T) {
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts conformance.CapabilityOptions
	}{
		{"minimal", conformance.CapabilityOptions{BaseURL: "http://127.0.0.1:8080", Software: "medbridge", Date: date}},
		{"read-only", conformance.CapabilityOptions{
			BaseURL: "http://localhost/fhir", Software: "medbridge", Date: date,
			Types: []conformance.TypeCapability{{Type: "Patient", Interactions: []string{"read"}}},
		}},
		{"full", fullOptions()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := conformance.CapabilityStatement(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := codec.Parse(got)
			if err != nil {
				t.Fatalf("not valid R4: %v\n%s", err, got)
			}
			if parsed.Type != "CapabilityStatement" {
				t.Errorf("parsed as %s", parsed.Type)
			}
			var cs struct {
				Status, Kind, FHIRVersion string
				Format                    []string
				Implementation            struct{ URL string }
				Rest                      []struct{ Mode string }
			}
			if err := json.Unmarshal(got, &cs); err != nil {
				t.Fatal(err)
			}
			if cs.Status != "active" || cs.Kind != "instance" || cs.FHIRVersion != "4.0.1" ||
				cs.Implementation.URL != tt.opts.BaseURL || len(cs.Rest) != 1 || cs.Rest[0].Mode != "server" {
				t.Errorf("unexpected statement: %+v", cs)
			}
			for _, f := range cs.Format {
				if strings.Contains(f, "xml") {
					t.Errorf("claims format %s", f)
				}
			}
			golden(t, filepath.Join("testdata", "capability-"+tt.name+".golden.json"), got)
		})
	}
}

// Every type the Spec knows is one the codec accepts in a statement.
func TestCapabilityStatementAllTypes(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	opts := conformance.CapabilityOptions{BaseURL: "http://localhost:8080", Software: "medbridge", Date: date}
	for _, typ := range spec.ResourceTypes() {
		opts.Types = append(opts.Types, conformance.TypeCapability{
			Type:         typ,
			Interactions: []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"},
			Versioning:   "versioned-update",
		})
	}
	got, err := conformance.CapabilityStatement(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Parse(got); err != nil {
		t.Fatalf("not valid R4: %v", err)
	}
}

// golden compares got, indented, with the file at path; -update rewrites it.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, buf.Bytes())
	}
}

func TestCapabilityStatementRefusesUntrueClaims(t *testing.T) {
	tests := []struct {
		name   string
		change func(*conformance.CapabilityOptions)
		want   string
	}{
		{"no base URL", func(o *conformance.CapabilityOptions) { o.BaseURL = "" }, "BaseURL"},
		{"relative base URL", func(o *conformance.CapabilityOptions) { o.BaseURL = "/fhir" }, "BaseURL"},
		{"no software", func(o *conformance.CapabilityOptions) { o.Software = "" }, "Software"},
		{"no date", func(o *conformance.CapabilityOptions) { o.Date = time.Time{} }, "Date"},
		{"xml format", func(o *conformance.CapabilityOptions) { o.Formats = []string{"json", "xml"} }, `format "xml"`},
		{"fhir+xml format", func(o *conformance.CapabilityOptions) { o.Formats = []string{"application/fhir+xml"} }, "not JSON"},
		{"empty formats", func(o *conformance.CapabilityOptions) { o.Formats = []string{} }, "Formats is empty"},
		{"unknown type", func(o *conformance.CapabilityOptions) { o.Types[0].Type = "Patients" }, "not an R4 resource type"},
		{"abstract type", func(o *conformance.CapabilityOptions) { o.Types[0].Type = "DomainResource" }, "not an R4 resource type"},
		{"type twice", func(o *conformance.CapabilityOptions) { o.Types[0].Type = "Patient" }, "described twice"},
		{"unknown interaction", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = append(o.Types[1].Interactions, "search")
		}, `interaction "search"`},
		{"interaction twice", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = append(o.Types[1].Interactions, "read")
		}, "given twice"},
		{"system interaction at type level", func(o *conformance.CapabilityOptions) { o.Types[1].Interactions = []string{"transaction"} }, `"transaction"`},
		{"type interaction at system level", func(o *conformance.CapabilityOptions) { o.SystemInteractions = []string{"read"} }, `system interaction "read"`},
		{"readHistory without vread", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = []string{"read", "update", "create", "delete", "search-type"}
		}, "ReadHistory without the vread"},
		{"updateCreate without update", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = []string{"read", "vread", "create", "delete", "search-type"}
		}, "UpdateCreate without the update"},
		{"conditionalCreate without create", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = []string{"read", "vread", "update", "delete", "search-type"}
		}, "ConditionalCreate without the create"},
		{"conditionalDelete without delete", func(o *conformance.CapabilityOptions) {
			o.Types[1].Interactions = []string{"read", "vread", "update", "create", "search-type"}
		}, "ConditionalDelete without the delete"},
		{"search params without search-type", func(o *conformance.CapabilityOptions) { o.Types[0].Interactions = []string{"read"} }, "SearchParams without the search-type"},
		{"system search params without search-system", func(o *conformance.CapabilityOptions) { o.SystemInteractions = []string{"transaction"} }, "without the search-system"},
		{"bad versioning", func(o *conformance.CapabilityOptions) { o.Types[0].Versioning = "yes" }, "versioning"},
		{"bad conditionalDelete", func(o *conformance.CapabilityOptions) { o.Types[1].ConditionalDelete = "all" }, "conditionalDelete"},
		{"bad search param type", func(o *conformance.CapabilityOptions) { o.Types[0].SearchParams[0].Type = "code" }, `type "code"`},
		{"search param twice", func(o *conformance.CapabilityOptions) {
			o.Types[1].SearchParams = append(o.Types[1].SearchParams, conformance.SearchParamCapability{Name: "name", Type: "string"})
		}, "name is described twice"},
		{"search param without name", func(o *conformance.CapabilityOptions) { o.Types[0].SearchParams[0].Name = "" }, "without a name"},
		{"operation with $", func(o *conformance.CapabilityOptions) { o.Types[1].Operations[0].Name = "$everything" }, "without the $"},
		{"operation without definition", func(o *conformance.CapabilityOptions) { o.Types[1].Operations[0].Definition = "" }, "no Definition"},
		{"relative oauth uri", func(o *conformance.CapabilityOptions) { o.Security.OAuthURIs["token"] = "/auth/token" }, `oauth-uris token "/auth/token"`},
		{"bad security service", func(o *conformance.CapabilityOptions) { o.Security.Services = []string{"oauth"} }, `security service "oauth"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fullOptions()
			tt.change(&opts)
			got, err := conformance.CapabilityStatement(opts)
			if err == nil {
				t.Fatalf("no error; statement:\n%s", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestParseCapabilityStatement reads back what CapabilityStatement writes:
// one model for both.
func TestParseCapabilityStatement(t *testing.T) {
	b, err := conformance.CapabilityStatement(fullOptions())
	if err != nil {
		t.Fatal(err)
	}
	cs, rest, err := conformance.ParseCapabilityStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed and written again:\n%s\nwant\n%s", again, b)
	}
	i := slices.IndexFunc(rest.Resource, func(r conformance.RestResourceJSON) bool { return r.Type == "Patient" })
	if i < 0 || !rest.Resource[i].Has("vread") || rest.Resource[i].Has("patch") || rest.Resource[i].Param("birthdate") == nil || rest.Resource[i].Param("shoe-size") != nil {
		t.Errorf("Patient: %+v", rest.Resource)
	}
	for _, bad := range []string{`{`, `{"resourceType":"Patient"}`, `{"resourceType":"CapabilityStatement","rest":[{"mode":"client"}]}`} {
		if _, _, err := conformance.ParseCapabilityStatement([]byte(bad)); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}
