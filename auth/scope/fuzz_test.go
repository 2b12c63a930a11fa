package scope

import "testing"

var fuzzSeeds = []string{
	"",
	"openid fhirUser launch/patient offline_access patient/*.rs",
	"patient/*.read user/*.write system/*.*",
	"patient/Observation.rs?" + vitals,
	"patient/Observation.r?category=a patient/Observation.s?status=final&category=b",
	"user/Observation.s?code%3Ain=http%3A%2F%2Fx&note=a%26b%2Bc%20d%25",
	"patient/Observation.rsc",
	"patient/Observation.read?x=1",
	"Patient/*.read admin/users.read launch/encounter",
	"patient/Device.cu?type=%FF%00 user/*.crd",
}

// FuzzParse checks that Parse never panics and that a parsed set survives
// String and Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			return
		}
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", text, s, err)
		}
		if !again.Equal(s) || again.String() != s.String() {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q", text, s, s, again)
		}
		if !s.Covers(s) {
			t.Fatalf("%q does not cover itself", s)
		}
	})
}

// FuzzNarrow checks the contract of Narrow on arbitrary scope pairs.
func FuzzNarrow(f *testing.F) {
	for _, a := range fuzzSeeds {
		for _, b := range fuzzSeeds[:4] {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, requested, allowed string) {
		req, err1 := Parse(requested)
		all, err2 := Parse(allowed)
		if err1 != nil || err2 != nil {
			return
		}
		checkNarrow(t, req, all, Narrow(req, all))
	})
}
