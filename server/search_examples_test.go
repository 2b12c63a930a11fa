package server_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// exampleCase is a search over the official R4 examples with ids checked
// by hand against the example files (testdata/examples/Type-id.json).
// want holds ids for a type or compartment search and "Type/id" for a
// system search; included holds "Type/id" of _include/_revinclude
// results. needs lists the types the result depends on besides the one
// searched (chains, _has, includes); "*" means every type.
type exampleCase struct {
	query    string
	want     []string
	ordered  bool // want is in _sort order
	included []string
	needs    []string
}

// mongoExampleTypes are the types loaded into the Mongo store: FerretDB
// scans every query, so the Mongo run loads these ~125 examples instead
// of all 705 and runs the cases that depend on nothing else.
var mongoExampleTypes = []string{
	"Patient", "Encounter", "Condition", "Practitioner", "Organization", "AllergyIntolerance",
	"Location", "Immunization", "Appointment", "CarePlan", "Device", "DiagnosticReport", "Procedure",
}

// TestSearchOfficialExamples loads the official examples and runs
// exampleCases: all 700 valid examples and every case on SQLite, the
// mongoExampleTypes subset and the cases it can answer on Mongo.
func TestSearchOfficialExamples(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		var types []string
		if b.Name == servertest.Mongo.Name {
			types = mongoExampleTypes
		}
		// Without the audit trail: a record per PUT and search would make
		// every FerretDB scan longer; this test is about search.
		srv := servertest.StartBackend(t, b, servertest.WithoutAudit())
		n := loadExamples(t, srv, types)
		ran := 0
		for _, tc := range exampleCases {
			if types != nil && !caseWithin(tc, types) {
				continue
			}
			ran++
			t.Run(tc.query, func(t *testing.T) { runExampleCase(t, srv, tc) })
		}
		t.Run("sorted paging", func(t *testing.T) { testExamplePaging(t, srv, types) })
		t.Logf("%s: %d examples loaded, %d of %d cases run", b.Name, n, ran, len(exampleCases))
	})
}

// loadExamples PUTs the valid official examples of types (nil: all) and
// returns how many.
func loadExamples(t *testing.T, srv *servertest.Server, types []string) int {
	t.Helper()
	files, err := filepath.Glob("../testdata/examples/*.json")
	if err != nil || len(files) != 705 {
		t.Fatalf("want the 705 official examples, found %d (%v)", len(files), err)
	}
	n := 0
	for _, f := range files {
		name := filepath.Base(f)
		if _, invalid := servertest.InvalidExamples[name]; invalid {
			continue
		}
		typ, _, _ := strings.Cut(name, "-")
		if types != nil && !slices.Contains(types, typ) {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		put(t, srv, string(body))
		n++
	}
	return n
}

// searchedType is the type a case's path searches: /fhir/Type?… or the
// compartment's target /fhir/Owner/id/Type?…; "*" for a system search.
func searchedType(query string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(query, "/fhir"), "?")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch len(segs) {
	case 1:
		if segs[0] == "" {
			return "*"
		}
		return segs[0]
	case 3:
		return segs[2]
	}
	return "*"
}

func caseWithin(tc exampleCase, types []string) bool {
	for _, need := range append([]string{searchedType(tc.query)}, tc.needs...) {
		if !slices.Contains(types, need) {
			return false
		}
	}
	return true
}

func runExampleCase(t *testing.T, srv *servertest.Server, tc exampleCase) {
	b := search(t, srv, tc.query)
	got := b.ids("match")
	if searchedType(tc.query) == "*" {
		got = b.refs("match")
	}
	switch {
	case tc.ordered && !slices.Equal(got, tc.want):
		t.Errorf("matches %v, want in this order %v", got, tc.want)
	case !sameSet(got, tc.want):
		t.Errorf("matches %v, want %v", sorted(got), sorted(tc.want))
	}
	if !strings.Contains(tc.query, "_count=") && (b.Total == nil || *b.Total != len(tc.want)) {
		t.Errorf("total %v, want %d", deref(b.Total), len(tc.want))
	}
	if inc := b.refs("include"); !sameSet(inc, tc.included) {
		t.Errorf("included %v, want %v", sorted(inc), sorted(tc.included))
	}
}

// testExamplePaging follows next links through two sorted searches and
// checks the order and that nothing repeats or goes missing.
func testExamplePaging(t *testing.T, srv *servertest.Server, types []string) {
	// The 17 Patients with a birth date, oldest first, ties by id:
	// glossy and xcda 1932-09-24, f001 1944-11-17, xds 1956-05-27, f201
	// 1960-03-13, proband 1966-04-04, genetics-example1 and mom
	// 1973-05-31, ch-example and example 1974-12-25, pat3 1982-01-23, pat4
	// 1982-08-02, infant-mom 1995-10-12, animal 2010-03-23, infant-twin-1
	// and -2 2017-05-15, newborn 2017-09-05.
	want := []string{"glossy", "xcda", "f001", "xds", "f201", "proband", "genetics-example1", "mom",
		"ch-example", "example", "pat3", "pat4", "infant-mom", "animal", "infant-twin-1", "infant-twin-2", "newborn"}
	if got := followPages(t, srv, "/fhir/Patient?birthdate:missing=false&_sort=birthdate,_id&_count=5", 17); !slices.Equal(got, want) {
		t.Errorf("Patients by birth date:\n got %v\nwant %v", got, want)
	}
	// Newest first, ties still ascending by id.
	desc := []string{"newborn", "infant-twin-1", "infant-twin-2", "animal", "infant-mom", "pat4", "pat3",
		"ch-example", "example", "genetics-example1", "mom", "proband", "f201", "xds", "f001", "glossy", "xcda"}
	if got := followPages(t, srv, "/fhir/Patient?birthdate:missing=false&_sort=-birthdate,_id&_count=4", 17); !slices.Equal(got, desc) {
		t.Errorf("Patients by birth date descending:\n got %v\nwant %v", got, desc)
	}
	if types != nil {
		return
	}
	// All 39 valid MedicationRequests are pat1's (medrx0301 is invalid):
	// medrx002 and medrx0302..medrx0339.
	got := followPages(t, srv, "/fhir/MedicationRequest?subject=Patient/pat1&_count=10", 39)
	if len(got) != 39 || len(slices.Compact(sorted(got))) != 39 || !slices.Contains(got, "medrx002") || slices.Contains(got, "medrx0301") {
		t.Errorf("MedicationRequests of pat1 over 4 pages: %d, %v", len(got), got)
	}
}

// followPages reads every page of a search by its next links and returns
// the match ids in order; each page's total must be total.
func followPages(t *testing.T, srv *servertest.Server, path string, total int) []string {
	t.Helper()
	var ids []string
	for pages := 0; path != ""; pages++ {
		if pages > total {
			t.Fatalf("%s: more pages than results", path)
		}
		b := search(t, srv, path)
		if b.Total == nil || *b.Total != total {
			t.Errorf("%s: total %v, want %d", path, deref(b.Total), total)
		}
		ids = append(ids, b.ids("match")...)
		path = b.link("next")
		if path != "" {
			path = relative(t, srv, path)
		}
	}
	return ids
}
