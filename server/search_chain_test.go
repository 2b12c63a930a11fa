package server_test

import (
	"slices"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestSearchChainsAndIncludes: chained parameters (one and two links),
// reverse chains (_has, nested), and _include/_revinclude with :iterate
// and *, on searchFixture.
func TestSearchChainsAndIncludes(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := startSearchFixture(t, b)
		t.Run("chain", func(t *testing.T) { runIDCases(t, srv, chainCases) })
		t.Run("include", func(t *testing.T) { runIncludeCases(t, srv) })
	})
}

var chainCases = []idCase{
	// pat-a is Müller: her Observations are obs-1 and obs-3.
	{query: "/fhir/Observation?subject:Patient.name=muller", want: []string{"obs-1", "obs-3"}},
	// subject without a type: of its targets, Patient and Location have
	// a name parameter (Group has none); Mueller is pat-b.
	{query: "/fhir/Observation?subject.name=mue", want: []string{"obs-2", "obs-4"}},
	// patient.identifier: pat-b's MRN.
	{query: "/fhir/Observation?patient.identifier=http://example.org/mrn%7CB2", want: []string{"obs-2", "obs-4"}},
	// Two links: pat-a's managing organization is Acme, her GP is Smith.
	{query: "/fhir/Observation?subject:Patient.organization.name=acme", want: []string{"obs-1", "obs-3"}},
	{query: "/fhir/Observation?subject:Patient.general-practitioner.name=smith", want: []string{"obs-1", "obs-3"}},
	{query: "/fhir/Observation?subject:Patient.organization.name=nobody", want: nil},
	{query: "/fhir/Encounter?subject.name=bob", want: []string{"enc-2"}},
	{query: "/fhir/Observation?encounter.status=finished", want: []string{"obs-1"}},
	// A chain ANDed with a plain parameter.
	{query: "/fhir/Observation?subject:Patient.gender=female&code=85354-9", want: []string{"obs-3"}},
	// Reverse chains: pat-c has the body weight; pat-a and pat-b have
	// heart rates (obs-8's is a Group's); pat-b has the open encounter.
	{query: "/fhir/Patient?_has:Observation:patient:code=29463-7", want: []string{"pat-c"}},
	{query: "/fhir/Patient?_has:Observation:subject:code=8867-4", want: []string{"pat-a", "pat-b"}},
	{query: "/fhir/Patient?_has:Encounter:subject:status=in-progress", want: []string{"pat-b"}},
	{query: "/fhir/Patient?_has:Observation:patient:code=8867-4&_has:Encounter:subject:status=finished", want: []string{"pat-a"}},
	// Nested: practitioners who are GP of a patient who has a blood
	// pressure panel (pat-a, obs-3).
	{query: "/fhir/Practitioner?_has:Patient:general-practitioner:_has:Observation:patient:code=85354-9", want: []string{"prac-1"}},
	// Organizations managing a patient named Mueller: pat-b's org-2.
	{query: "/fhir/Organization?_has:Patient:organization:name=mueller", want: []string{"org-2"}},
}

// runIncludeCases checks matches and included resources (Type/id) apart;
// every included resource appears once, with search.mode include, and the
// total counts matches only.
func runIncludeCases(t *testing.T, srv *servertest.Server) {
	cases := []struct {
		query             string
		matches, included []string
	}{
		{"/fhir/Observation?code=8867-4&_include=Observation:subject",
			[]string{"obs-1", "obs-2", "obs-8"}, []string{"Patient/pat-a", "Patient/pat-b", "Group/grp-1"}},
		{"/fhir/Observation?code=8867-4&_include=Observation:subject:Patient",
			[]string{"obs-1", "obs-2", "obs-8"}, []string{"Patient/pat-a", "Patient/pat-b"}},
		// obs-1 and obs-3 both point at pat-a: included once.
		{"/fhir/Observation?subject=pat-a&_include=Observation:patient",
			[]string{"obs-1", "obs-3"}, []string{"Patient/pat-a"}},
		// Every reference of obs-1: subject/patient, encounter, performer.
		{"/fhir/Observation?_id=obs-1&_include=Observation:*",
			[]string{"obs-1"}, []string{"Patient/pat-a", "Encounter/enc-1", "Practitioner/prac-1"}},
		{"/fhir/Observation?_id=obs-1&_include=*",
			[]string{"obs-1"}, []string{"Patient/pat-a", "Encounter/enc-1", "Practitioner/prac-1"}},
		// A reference to a resource outside the server includes nothing.
		{"/fhir/Observation?_id=obs-7&_include=Observation:subject",
			[]string{"obs-7"}, nil},
		{"/fhir/Patient?_id=pat-a&_revinclude=Observation:subject",
			[]string{"pat-a"}, []string{"Observation/obs-1", "Observation/obs-3"}},
		{"/fhir/Patient?_id=pat-b&_revinclude=Encounter:subject&_revinclude=Condition:subject",
			[]string{"pat-b"}, []string{"Encounter/enc-2", "Condition/cond-2"}},
		// Without :iterate, Patient:organization applies to the matches
		// (Observations) only; with it, to the included Patient too.
		{"/fhir/Observation?_id=obs-1&_include=Observation:subject&_include=Patient:organization",
			[]string{"obs-1"}, []string{"Patient/pat-a"}},
		{"/fhir/Observation?_id=obs-1&_include=Observation:subject&_include:iterate=Patient:organization",
			[]string{"obs-1"}, []string{"Patient/pat-a", "Organization/org-1"}},
		// :iterate from a _revinclude to an _include, and _revinclude:iterate.
		{"/fhir/Patient?_id=pat-a&_revinclude=Observation:subject&_include:iterate=Observation:performer",
			[]string{"pat-a"}, []string{"Observation/obs-1", "Observation/obs-3", "Practitioner/prac-1"}},
		{"/fhir/Organization?_id=org-1&_revinclude=Patient:organization&_revinclude:iterate=Observation:subject",
			[]string{"org-1"}, []string{"Patient/pat-a", "Observation/obs-1", "Observation/obs-3"}},
		// A match is never included again: pat-d links to pat-a, a match.
		{"/fhir/Patient?_id=pat-a,pat-d&_include=Patient:link",
			[]string{"pat-a", "pat-d"}, nil},
		// Includes and _count: the page's matches only.
		{"/fhir/Observation?code=8867-4&_sort=_id&_count=1&_include=Observation:subject",
			[]string{"obs-1"}, []string{"Patient/pat-a"}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			b := search(t, srv, tc.query)
			if got := b.ids("match"); !sameSet(got, tc.matches) {
				t.Errorf("matches %v, want %v", got, tc.matches)
			}
			got := b.refs("include")
			if !sameSet(got, tc.included) {
				t.Errorf("included %v, want %v", got, tc.included)
			}
			if n := len(slices.Compact(sorted(got))); n != len(got) {
				t.Errorf("an included resource appears twice: %v", got)
			}
			wantTotal := len(tc.matches)
			if tc.query == "/fhir/Observation?code=8867-4&_sort=_id&_count=1&_include=Observation:subject" {
				wantTotal = 3
			}
			if b.Total == nil || *b.Total != wantTotal {
				t.Errorf("total %v, want %d (matches only)", deref(b.Total), wantTotal)
			}
			// Matches come first, then the included resources.
			seenInclude := false
			for _, e := range b.Entry {
				switch e.Search.Mode {
				case "include":
					seenInclude = true
				case "match":
					if seenInclude {
						t.Errorf("a match after an included resource")
					}
				default:
					t.Errorf("entry %s has search.mode %q", e.FullURL, e.Search.Mode)
				}
			}
		})
	}
}
