package fhir_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
)

const tag = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}`

const patient = `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2026-01-02T03:04:05.000000Z"},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane</div>"},` +
	`"identifier":[{"system":"urn:mrn","value":"42"}],"active":true,"name":[{"family":"Doe","given":["Jane"]}],` +
	`"gender":"female","birthDate":"1970-01-01","deceasedBoolean":false,"maritalStatus":{"text":"married"},` +
	`"photo":[{"contentType":"image/png","data":"AA=="}],"contact":[{"name":{"family":"Roe"}}],` +
	`"managingOrganization":{"reference":"Organization/o1"}}`

const observation = `{"resourceType":"Observation","id":"o1","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000000Z"},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">72 bpm</div>"},` +
	`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},` +
	`"effectiveDateTime":"2026-01-01T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute"},` +
	`"interpretation":[{"text":"normal"}],"note":[{"text":"at rest"}]}`

const meta1 = `"meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000000Z","tag":[` + tag + `]}`
const meta2 = `"meta":{"versionId":"2","lastUpdated":"2026-01-02T03:04:05.000000Z","tag":[` + tag + `]}`

func TestSubset(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	summary := func(typ, mode string) func(string) bool {
		keep, ok := spec.SummaryKeep(typ, mode)
		if !ok {
			t.Fatalf("SummaryKeep(%s, %s) not ok", typ, mode)
		}
		return keep
	}
	tests := []struct {
		name  string
		input string
		keep  func(string) bool
		want  string
	}{
		{
			name: "Patient _summary=true", input: patient, keep: summary("Patient", "true"),
			want: `{"resourceType":"Patient","id":"p1",` + meta2 + `,"identifier":[{"system":"urn:mrn","value":"42"}],"active":true,` +
				`"name":[{"family":"Doe","given":["Jane"]}],"gender":"female","birthDate":"1970-01-01","deceasedBoolean":false,` +
				`"managingOrganization":{"reference":"Organization/o1"}}`,
		},
		{
			name: "Patient _summary=text", input: patient, keep: summary("Patient", "text"),
			want: `{"resourceType":"Patient","id":"p1",` + meta2 +
				`,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane</div>"}}`,
		},
		{
			name: "Observation _summary=text keeps the mandatory elements", input: observation, keep: summary("Observation", "text"),
			want: `{"resourceType":"Observation","id":"o1",` + meta1 +
				`,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">72 bpm</div>"},"status":"final",` +
				`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}`,
		},
		{
			name: "Observation _summary=data", input: observation, keep: summary("Observation", "data"),
			want: `{"resourceType":"Observation","id":"o1",` + meta1 +
				`,"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
				`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},` +
				`"effectiveDateTime":"2026-01-01T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute"},` +
				`"interpretation":[{"text":"normal"}],"note":[{"text":"at rest"}]}`,
		},
		{
			name: "Observation _summary=true keeps choice elements", input: observation, keep: summary("Observation", "true"),
			want: `{"resourceType":"Observation","id":"o1",` + meta1 +
				`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},` +
				`"effectiveDateTime":"2026-01-01T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute"}}`,
		},
		{
			name: "Patient _elements=name,birthDate", input: patient, keep: spec.ElementsKeep("Patient", []string{"name", "birthDate"}),
			want: `{"resourceType":"Patient","id":"p1",` + meta2 + `,"name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-01"}`,
		},
		{
			name: "Patient _elements in another order keeps the input order", input: patient,
			keep: spec.ElementsKeep("Patient", []string{"birthDate", "name"}),
			want: `{"resourceType":"Patient","id":"p1",` + meta2 + `,"name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-01"}`,
		},
		{
			name: "Observation _elements=value matches valueQuantity", input: observation, keep: spec.ElementsKeep("Observation", []string{"value"}),
			want: `{"resourceType":"Observation","id":"o1",` + meta1 +
				`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"valueQuantity":{"value":72,"unit":"beats/minute"}}`,
		},
		{
			name: "Observation _elements=valueString does not match valueQuantity", input: observation,
			keep: spec.ElementsKeep("Observation", []string{"valueString"}),
			want: `{"resourceType":"Observation","id":"o1",` + meta1 + `,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}`,
		},
		{
			name:  "resourceType, id and meta move to the front",
			input: `{"name":[{"family":"Doe"}],"meta":{"versionId":"1"},"gender":"male","id":"p2","resourceType":"Patient"}`,
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","id":"p2","meta":{"versionId":"1","tag":[` + tag + `]},"name":[{"family":"Doe"}],"gender":"male"}`,
		},
		{
			name:  "no meta",
			input: `{"resourceType":"Patient","id":"p3","gender":"male"}`,
			keep:  func(string) bool { return false },
			want:  `{"resourceType":"Patient","id":"p3","meta":{"tag":[` + tag + `]}}`,
		},
		{
			name:  "no id",
			input: `{"resourceType":"Patient","gender":"male"}`,
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","meta":{"tag":[` + tag + `]},"gender":"male"}`,
		},
		{
			name:  "empty meta",
			input: `{"resourceType":"Patient","id":"p3","meta":{}}`,
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","id":"p3","meta":{"tag":[` + tag + `]}}`,
		},
		{
			name:  "other tags stay, in place",
			input: `{"resourceType":"Patient","id":"p4","meta":{"tag":[{"system":"urn:x","code":"a"}],"security":[{"code":"R"}]}}`,
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","id":"p4","meta":{"tag":[{"system":"urn:x","code":"a"},` + tag + `],"security":[{"code":"R"}]}}`,
		},
		{
			name:  "SUBSETTED already there",
			input: `{"resourceType":"Patient","id":"p5","meta":{"tag":[{"code":"SUBSETTED","system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","display":"subsetted"}]},"gender":"male"}`,
			keep:  func(n string) bool { return false },
			want:  `{"resourceType":"Patient","id":"p5","meta":{"tag":[{"code":"SUBSETTED","system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","display":"subsetted"}]}}`,
		},
		{
			name:  "a SUBSETTED code of another system is not the tag",
			input: `{"resourceType":"Patient","id":"p6","meta":{"tag":[{"system":"urn:x","code":"SUBSETTED"}]}}`,
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","id":"p6","meta":{"tag":[{"system":"urn:x","code":"SUBSETTED"},` + tag + `]}}`,
		},
		{
			name:  "whitespace between members is dropped, inside values kept",
			input: "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p7\",\n  \"name\": [ {\"family\": \"Doe\"} ]\n}\n",
			keep:  func(string) bool { return true },
			want:  `{"resourceType":"Patient","id":"p7","meta":{"tag":[` + tag + `]},"name":[ {"family": "Doe"} ]}`,
		},
		{
			name:  "keys with escapes",
			input: `{"resourceType":"Patient","id":"p8","na\u006de":[{"family":"D\u00f6e"}]}`,
			keep:  func(n string) bool { return n == "name" },
			want:  `{"resourceType":"Patient","id":"p8","meta":{"tag":[` + tag + `]},"name":[{"family":"D\u00f6e"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fhir.Subset([]byte(tt.input), tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("output is not JSON: %s", got)
			}
			again, err := fhir.Subset(got, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Errorf("not idempotent: second pass gives\n%s", again)
			}
			if n := strings.Count(string(again), tag); n > 1 {
				t.Errorf("%d SUBSETTED tags after two passes", n)
			}
		})
	}
}

// The full-size spec examples subset to valid R4.
func TestSubsetExamplesStayValid(t *testing.T) {
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := fhir.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"Patient-example.json", "Observation-example.json", "Observation-bmd.json"} {
		input := readExample(t, file)
		parsed, err := codec.Parse(input)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, mode := range []string{"true", "text", "data"} {
			keep, _ := spec.SummaryKeep(parsed.Type, mode)
			got, err := fhir.Subset(input, keep)
			if err != nil {
				t.Fatalf("%s _summary=%s: %v", file, mode, err)
			}
			if _, err := codec.Parse(got); err != nil {
				t.Errorf("%s _summary=%s: %v\n%s", file, mode, err, got)
			}
		}
	}
}

func TestSubsetErrors(t *testing.T) {
	keepAll := func(string) bool { return true }
	for _, input := range []string{
		``,
		`[]`,
		`"Patient"`,
		`{"resourceType":"Patient"`,
		`{"resourceType":"Patient",}`,
		`{"id":"p1"}`,
		`{"resourceType":"Patient","meta":[]}`,
		`{"resourceType":"Patient","meta":{"tag":{}}}`,
		`{"resourceType":"Patient","meta":{"tag":[1]}}`,
	} {
		if got, err := fhir.Subset([]byte(input), keepAll); err == nil {
			t.Errorf("Subset(%s) = %s, want an error", input, got)
		}
	}
}

func TestKeepElements(t *testing.T) {
	names := map[string]bool{"value": true, "status": true, "instantiates": true, "effectiveDateTime": true}
	choices := map[string]bool{"value": true, "effective": true}
	tests := []struct {
		jsonName string
		want     bool
	}{
		{"value", true},
		{"valueQuantity", true},
		{"valueCodeableConcept", true},
		{"status", true},
		{"statusReason", false}, // status is not a choice element
		{"instantiates", true},
		{"instantiatesCanonical", false},
		{"effectiveDateTime", true}, // asked for by its JSON name
		{"effectivePeriod", false},
		{"valuequantity", false},
		{"code", false},
	}
	keep := fhir.KeepElements(names, choices)
	for _, tt := range tests {
		if got := keep(tt.jsonName); got != tt.want {
			t.Errorf("keep(%q) = %v, want %v", tt.jsonName, got, tt.want)
		}
	}
	if fhir.KeepElements(names, nil)("valueQuantity") {
		t.Error("without choices, value matches valueQuantity")
	}
	for jsonName, want := range map[string]string{"valueQuantity": "value", "effectivePeriod": "effective", "status": "status", "statusReason": "statusReason", "v": "v", "": ""} {
		if got := fhir.ElementName(jsonName, choices); got != want {
			t.Errorf("ElementName(%q) = %q, want %q", jsonName, got, want)
		}
	}
}

func BenchmarkSubset(b *testing.B) {
	spec, err := conformance.Load()
	if err != nil {
		b.Fatal(err)
	}
	input := readExample(b, "Patient-example.json")
	keep, _ := spec.SummaryKeep("Patient", "true")
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		if _, err := fhir.Subset(input, keep); err != nil {
			b.Fatal(err)
		}
	}
}

// readExample reads one of the spec's examples in the repository's testdata.
func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
