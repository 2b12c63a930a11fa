package storage

import (
	"os"
	"testing"
)

// BenchmarkExtract measures index extraction at write time: JSON decoding
// plus every search parameter of the type.
func BenchmarkExtract(b *testing.B) {
	x := testExtractor(b)
	for _, c := range []struct{ name, typ, file string }{
		{"Observation-vitals", "Observation", "Observation-blood-pressure.json"},
		{"Observation-example", "Observation", "Observation-example.json"},
		{"Patient-example", "Patient", "Patient-example.json"},
	} {
		raw, err := os.ReadFile("../testdata/examples/" + c.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := x.Extract(c.typ, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeJSON compares decodeResource the extractor's JSON decoder with
// encoding/json (UseNumber) on a vital-signs Observation.
func BenchmarkDecodeJSON(b *testing.B) {
	raw, err := os.ReadFile("../testdata/examples/Observation-blood-pressure.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeResource", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeResource(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeForTest(b, raw)
		}
	})
}

// BenchmarkExtractDecoded is Extract without the JSON decoding.
func BenchmarkExtractDecoded(b *testing.B) {
	x := testExtractor(b)
	raw, err := os.ReadFile("../testdata/examples/Observation-blood-pressure.json")
	if err != nil {
		b.Fatal(err)
	}
	resource, err := decodeResource(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.ExtractDecoded("Observation", resource); err != nil {
			b.Fatal(err)
		}
	}
}
