package storage

import (
	"math"
	"testing"
)

func TestCanonicalUCUMDimensions(t *testing.T) {
	for _, tt := range []struct {
		code, canonical string
		value, want     float64
	}{
		{"kg", "g", 70.5, 70500},
		{"g", "g", 3, 3},
		{"mg", "g", 250, 0.25},
		{"[degF]", "Cel", 212, 100},
		{"K", "Cel", 273.15, 0},
		{"/min", "/min", 72, 72},
	} {
		got, canonical, ok := CanonicalUCUM(tt.value, tt.code)
		if !ok || canonical != tt.canonical || math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("%g %s = %g %s (%t), want %g %s", tt.value, tt.code, got, canonical, ok, tt.want, tt.canonical)
		}
	}
	if _, _, ok := CanonicalUCUM(1, "furlong"); ok {
		t.Errorf("furlong converts")
	}
}
