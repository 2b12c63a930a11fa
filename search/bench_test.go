package search

import (
	"net/url"
	"testing"
)

func BenchmarkParseQuery(b *testing.B) {
	spec := loadSpec(b)
	for _, bc := range []struct {
		name  string
		types []string
		query string
	}{
		{"typical", observation, "code=http://loinc.org|8867-4&date=ge2026-01-01&patient=Patient/1&_sort=-date&_count=50&_include=Observation:subject"},
		{"chain-all-targets", []string{"Provenance"}, "target.name=x"},
	} {
		params, _ := url.ParseQuery(bc.query)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseQuery(spec, bc.types, params, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
