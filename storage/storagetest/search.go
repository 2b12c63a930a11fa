package storagetest

import (
	"context"
	"slices"
	"testing"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
)

// searchTests are the suite's tests of Search and ReadCurrent; Run runs
// them after the others.
var searchTests = []struct {
	name string
	run  func(t *testing.T, s suite)
}{
	{"SearchParameters", testSearchParameters},
	{"SearchOr", testSearchOr},
	{"SearchSort", testSearchSort},
	{"SearchAllTypes", testSearchAllTypes},
	{"SearchPaging", testSearchPaging},
	{"SearchPagingWhileWriting", testSearchPagingWhileWriting},
	{"SearchTotal", testSearchTotal},
	{"SearchBadCursor", testSearchBadCursor},
	{"SearchCursorSurvivesRestart", testSearchCursorSurvivesRestart},
	{"SearchSeesWrites", testSearchSeesWrites},
	{"ReadCurrent", testReadCurrent},
}

// searchCase is a search of searchWorld and the ids it finds, in any order.
type searchCase struct {
	query string // "Type?params", "Type1,Type2?params" or "?params" (system)
	want  []string
}

// testSearchParameters runs searchCases on searchWorld, each in one page
// and in pages of 2, checking the matches, the accurate Total and that
// every match is the current version.
func testSearchParameters(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	for _, group := range searchCases {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range group.cases {
				t.Run(c.query, func(t *testing.T) {
					q := parseQuery(t, c.query)
					f.checkSearch(t, q, c.want)
				})
			}
		})
	}
}

// checkSearch runs q with Total "accurate" in one page and in pages of 2
// and checks that it finds want (ids, in any order).
func (f *fixture) checkSearch(t *testing.T, q *search.Query, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	for _, count := range []int{1000, 2} {
		q.Count, q.Total = count, "accurate"
		got := f.searchAll(t, q)
		ids := idsOf(got)
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Errorf("_count=%d: got %v, want %v", count, ids, want)
		}
	}
}

// searchAll reads every page of q (with q.Count), following Next, and
// checks the paging contract: no page is larger than Count, pages are full
// but for the last, only the last has no Next, an accurate Total is the
// number of matches on every page, and every match is the model's current
// version. It leaves q.After as it found it.
func (f *fixture) searchAll(t *testing.T, q *search.Query) []fhir.Resource {
	t.Helper()
	after := q.After
	defer func() { q.After = after }()
	var all []fhir.Resource
	var totals []int
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatalf("still paging after %d pages", pages)
		}
		page, err := f.s.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("Search page %d: %v", pages+1, err)
		}
		if len(page.Resources) > q.Count {
			t.Fatalf("page %d: %d resources, _count is %d", pages+1, len(page.Resources), q.Count)
		}
		if pages > 0 && len(page.Resources) == 0 {
			t.Fatalf("page %d is empty; the page before should have had no Next", pages+1)
		}
		totals = append(totals, page.Total)
		all = append(all, page.Resources...)
		if page.Next == "" {
			break
		}
		if len(page.Resources) < q.Count {
			t.Fatalf("page %d: %d resources and a Next cursor, _count is %d", pages+1, len(page.Resources), q.Count)
		}
		q.After = page.Next
	}
	for i, total := range totals {
		switch {
		case q.Total == "accurate" && total != len(all):
			t.Errorf("page %d: Total %d, want %d", i+1, total, len(all))
		case q.Total == "none" && total != -1:
			t.Errorf("page %d: Total %d with _total=none, want -1", i+1, total)
		case q.Total == "estimate" && total != -1 && total != len(all):
			t.Errorf("page %d: Total %d with _total=estimate, want -1 or %d", i+1, total, len(all))
		}
	}
	seen := map[string]bool{}
	for _, r := range all {
		key := r.Type + "/" + r.ID
		if seen[key] {
			t.Errorf("%s found twice", key)
		}
		seen[key] = true
		want, ok := f.m.current(r.Type, r.ID)
		switch {
		case !ok:
			t.Errorf("found %s, which was never written", key)
		case want.Deleted:
			t.Errorf("found %s, which is deleted", key)
		case !sameResource(r, want):
			t.Errorf("found %s that is not the current version:\n got %s\nwant %s", key, describe(r), describe(want))
		}
	}
	return all
}

func idsOf(rs []fhir.Resource) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func keysOf(rs []fhir.Resource) []string {
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		keys = append(keys, r.Type+"/"+r.ID)
	}
	return keys
}

// testSearchOr checks Filter.Or alternatives with different parameters,
// as the server builds for a compartment search.
func testSearchOr(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	alternatives := func(requests ...string) search.Filter {
		var or search.Filter
		for _, r := range requests {
			q := parseQuery(t, r)
			or.Or = append(or.Or, q.Filters...)
		}
		return or
	}
	tests := []struct {
		name    string
		request string // the query the alternatives are added to
		or      search.Filter
		want    []string
	}{
		{"subject or performer", "Observation?", alternatives(
			"Observation?subject=Patient/pat-2", "Observation?performer=Practitioner/prac-1"),
			[]string{"obs-1", "obs-2", "obs-4"}},
		{"with another filter", "Observation?status=final", alternatives(
			"Observation?subject=Patient/pat-2", "Observation?performer=Practitioner/prac-1"),
			[]string{"obs-1", "obs-4"}},
		{"different parameter types", "Observation?", alternatives(
			"Observation?code=29463-7", "Observation?date=2024"),
			[]string{"obs-5", "obs-6", "obs-9"}},
		{"chain and _has", "Patient?", alternatives(
			"Patient?organization.name=acme", "Patient?_has:Observation:patient:code=15074-8"),
			[]string{"pat-1", "pat-4"}},
		{"negation", "Patient?", alternatives(
			"Patient?gender:not=female", "Patient?name=dana"),
			[]string{"pat-2", "pat-3", "pat-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := parseQuery(t, tt.request)
			q.Filters = append(q.Filters, tt.or)
			f.checkSearch(t, q, tt.want)
		})
	}
}

// testSearchSort checks _sort: ascending and descending, two keys, missing
// values last in both directions, ties and the default order by type and
// id. Dates sort by the start of their range, strings by their normalized
// form, tokens by code, references by "Type/id"; a resource with several
// values sorts by its smallest ascending and its largest descending.
func testSearchSort(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	tests := []struct {
		query string
		want  []string
	}{
		{"Patient?", []string{"pat-1", "pat-2", "pat-3", "pat-4"}},
		{"Patient?_sort=birthdate", []string{"pat-2", "pat-1", "pat-3", "pat-4"}},
		{"Patient?_sort=-birthdate", []string{"pat-4", "pat-3", "pat-1", "pat-2"}},
		// pat-3 has no gender: last either way.
		{"Patient?_sort=gender,-birthdate", []string{"pat-4", "pat-1", "pat-2", "pat-3"}},
		{"Patient?_sort=-gender,birthdate", []string{"pat-2", "pat-1", "pat-4", "pat-3"}},
		// Ties (pat-1 and pat-4 are female) fall back to the id.
		{"Patient?_sort=gender", []string{"pat-1", "pat-4", "pat-2", "pat-3"}},
		{"Patient?_sort=-gender", []string{"pat-2", "pat-1", "pat-4", "pat-3"}},
		// Names: normalized (Ångström sorts as angstrom); pat-4 sorts by
		// "angstrom" ascending and by "marie" descending.
		{"Patient?_sort=name", []string{"pat-4", "pat-1", "pat-2", "pat-3"}},
		{"Patient?_sort=-name", []string{"pat-3", "pat-1", "pat-2", "pat-4"}},
		{"Observation?code=8867-4&_sort=-date", []string{"obs-8", "obs-1", "obs-2"}},
		{"Observation?code=8867-4&_sort=date", []string{"obs-2", "obs-1", "obs-8"}},
		// obs-7 has no date: last.
		{"Observation?status=final&_sort=date", []string{"obs-5", "obs-4", "obs-3", "obs-9", "obs-1", "obs-8", "obs-7"}},
		{"Observation?status=final&_sort=-date", []string{"obs-8", "obs-1", "obs-3", "obs-9", "obs-4", "obs-5", "obs-7"}},
		{"Observation?value-quantity:missing=false&_sort=value-quantity", []string{"obs-6", "obs-8", "obs-5", "obs-1", "obs-2", "obs-9"}},
		{"Observation?code=8867-4,85354-9&_sort=subject,-date", []string{"obs-8", "obs-1", "obs-3", "obs-2", "obs-4"}},
		{"Observation?code=8867-4,85354-9&_sort=-subject,date", []string{"obs-4", "obs-2", "obs-3", "obs-1", "obs-8"}},
		{"RiskAssessment?_sort=-probability", []string{"ra-2", "ra-1", "ra-3"}},
		{"ValueSet?_sort=-url", []string{"vs-3", "vs-2", "vs-1"}},
		// pat-1 and prac-1 tie on "anna": Patient before Practitioner.
		{"?_type=Patient,Practitioner&_sort=name", []string{"pat-4", "pat-1", "prac-1", "pat-2", "pat-3"}},
		{"?_type=Patient,Practitioner&name=smith", []string{"pat-3", "prac-1"}},
		// Several types, default order: by type, then id.
		{"?_type=Practitioner,Organization,Group", []string{"grp-1", "org-1", "org-2", "prac-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q := parseQuery(t, tt.query)
			for _, count := range []int{1000, 3, 1} {
				q.Count = count
				if got := idsOf(f.searchAll(t, q)); !slices.Equal(got, tt.want) {
					t.Errorf("_count=%d: got %v, want %v", count, got, tt.want)
				}
			}
		})
	}
}

// testSearchAllTypes checks a system search without _type: every type.
func testSearchAllTypes(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	var want []string
	for _, v := range f.m.versions {
		if cur, _ := f.m.current(v.Type, v.ID); cur.Version == v.Version && !v.Deleted {
			want = append(want, v.Type+"/"+v.ID)
		}
	}
	slices.Sort(want)
	if len(want) != len(searchWorld) {
		t.Fatalf("the model has %d current resources, want %d", len(want), len(searchWorld))
	}
	q := parseQuery(t, "?")
	for _, count := range []int{1000, 7} {
		q.Count, q.Total = count, "accurate"
		got := keysOf(f.searchAll(t, q))
		if !slices.Equal(got, want) {
			t.Errorf("_count=%d: got %v, want %v (ordered by type, then id)", count, got, want)
		}
	}
	q = parseQuery(t, "?_id=obs-1,pat-1,gone-1,nothing")
	if got := keysOf(f.searchAll(t, q)); !slices.Equal(got, []string{"Observation/obs-1", "Patient/pat-1"}) {
		t.Errorf("?_id=obs-1,pat-1,gone-1,nothing: got %v", got)
	}
}
