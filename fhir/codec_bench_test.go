package fhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// vitalSign is what a device gateway posts most: a heart rate under the
// R4 vital signs profile.
const vitalSign = `{"resourceType":"Observation",` +
	`"meta":{"profile":["http://hl7.org/fhir/StructureDefinition/heartrate"]},` +
	`"status":"final",` +
	`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}],"text":"Vital Signs"}],` +
	`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
	`"subject":{"reference":"Patient/42"},` +
	`"effectiveDateTime":"2026-01-05T08:30:00Z",` +
	`"valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`

type benchBody struct {
	name string
	body []byte
}

// benchBodies are representative resources: small, typical and a large,
// deeply nested one (no Bundle, which medbridge stores entry by entry).
func benchBodies(b *testing.B) []benchBody {
	b.Helper()
	bodies := []benchBody{{"VitalSign", []byte(vitalSign)}}
	for _, f := range []struct{ name, file string }{
		{"Observation", "Observation-example.json"},
		{"Patient", "Patient-example.json"},
		{"ExplanationOfBenefit", "ExplanationOfBenefit-EB3500.json"},
	} {
		body, err := os.ReadFile(filepath.Join("..", "testdata", "examples", f.file))
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, benchBody{f.name, body})
	}
	return bodies
}

func benchCodec(b *testing.B) *Codec {
	b.Helper()
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkParseValidate is Codec.Parse: the syntax check, google/fhir's
// unmarshal and its validation, as a create or update does it.
func BenchmarkParseValidate(b *testing.B) {
	c := benchCodec(b)
	for _, bb := range benchBodies(b) {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				if _, err := c.Parse(bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckSyntax is the encoding/json pass Parse makes before
// google/fhir's, for its line and column on malformed JSON.
func BenchmarkCheckSyntax(b *testing.B) {
	for _, bb := range benchBodies(b) {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				if err := checkSyntax(bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarshal is Codec.Marshal of a parsed resource with its meta
// set, as a create or update does it before storing the JSON.
func BenchmarkMarshal(b *testing.B) {
	c := benchCodec(b)
	for _, bb := range benchBodies(b) {
		p, err := c.Parse(bb.body)
		if err != nil {
			b.Fatal(err)
		}
		p.SetID("0b9d3c8e-6a4f-4c1e-9f0e-2d7c5b8a1f30")
		p.SetMeta(1, time.Date(2026, 1, 5, 8, 30, 0, 123456000, time.UTC))
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				if _, err := c.Marshal(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStdJSON is the floor to compare with: encoding/json decoding
// the same bodies into map[string]any and encoding them again, without
// any FHIR knowledge or validation.
func BenchmarkStdJSON(b *testing.B) {
	for _, bb := range benchBodies(b) {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(bb.body, &m); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
