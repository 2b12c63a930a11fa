package conformance

import "testing"

// BenchmarkParse measures what Load costs the first time.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := parse(); err != nil {
			b.Fatal(err)
		}
	}
}
