package search

import "testing"

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in           string
		n, low, high float64
	}{
		{"100", 100, 99.5, 100.5},
		{"100.00", 100, 99.995, 100.005},
		{"1e2", 100, 50, 150}, // one significant figure
		{"1.0e2", 100, 95, 105},
		{"1.00e2", 100, 99.5, 100.5},
		{"1E2", 100, 50, 150},
		{"2.0", 2, 1.95, 2.05},
		{"0.1", 0.1, 0.05, 0.15},
		{"0", 0, -0.5, 0.5},
		{"-5", -5, -5.5, -4.5},
		{"+5", 5, 4.5, 5.5},
		{"1.5e-3", 0.0015, 0.00145, 0.00155},
		{"12e+1", 120, 115, 125},
		{"007", 7, 6.5, 7.5},
	}
	for _, tt := range tests {
		n, low, high, err := parseNumber(tt.in)
		if err != nil {
			t.Errorf("parseNumber(%q): %v", tt.in, err)
			continue
		}
		if n != tt.n || low != tt.low || high != tt.high {
			t.Errorf("parseNumber(%q) = %v [%v, %v), want %v [%v, %v)", tt.in, n, low, high, tt.n, tt.low, tt.high)
		}
	}
	for _, bad := range []string{"", "abc", "1.", ".5", "1e", "1e999", "0x10", "1,5", "1 ", "--1", "1e2.5", "NaN", "Inf"} {
		if _, _, _, err := parseNumber(bad); err == nil {
			t.Errorf("parseNumber(%q) succeeded", bad)
		}
	}
}

func TestNumberParameter(t *testing.T) {
	ra := []string{"RiskAssessment"}
	dump := "probability@RiskAssessment"
	runValueCases(t, []valueCase{
		{ra, "probability=0.8", dump, []Value{{Prefix: Eq, String: "0.8", Number: 0.8, Low: 0.75, High: 0.85}}},
		{ra, "probability=eq0.8", dump, []Value{{Prefix: Eq, String: "0.8", Number: 0.8, Low: 0.75, High: 0.85}}},
		{ra, "probability=ne1", dump, []Value{{Prefix: Ne, String: "1", Number: 1, Low: 0.5, High: 1.5}}},
		{ra, "probability=gt0.5", dump, []Value{{Prefix: Gt, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=lt0.5", dump, []Value{{Prefix: Lt, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=ge0.5", dump, []Value{{Prefix: Ge, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=le0.5", dump, []Value{{Prefix: Le, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=sa0.5", dump, []Value{{Prefix: Sa, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=eb0.5", dump, []Value{{Prefix: Eb, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=ap0.5", dump, []Value{{Prefix: Ap, String: "0.5", Number: 0.5, Low: 0.45, High: 0.55}}},
		{ra, "probability=0.1,ge0.9", dump, []Value{
			{Prefix: Eq, String: "0.1", Number: 0.1, Low: 0.05, High: 0.15},
			{Prefix: Ge, String: "0.9", Number: 0.9, Low: 0.85, High: 0.95},
		}},
		{ra, "probability=1e2", dump, []Value{{Prefix: Eq, String: "1e2", Number: 100, Low: 50, High: 150}}},
		{ra, "probability:missing=true", "probability@RiskAssessment:missing=true", nil},
		{[]string{"MolecularSequence"}, "variant-start=lt100.00", "variant-start@MolecularSequence", []Value{{Prefix: Lt, String: "100.00", Number: 100, Low: 99.995, High: 100.005}}},
	})
	runErrorCases(t, []errorCase{
		{ra, "probability=xx0.5", "probability"},
		{ra, "probability=gt", "probability"},
		{ra, "probability=gte0.5", "probability"},
		{ra, "probability=Gt0.5", "probability"},
		{ra, "probability=0.5abc", "probability"},
		{ra, "probability=0.5,high", "probability"},
		{ra, "probability:missing=yes", "probability:missing"},
	})
}
