package mongo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// searchFixture is a small data set covering every parameter type, with
// values chosen so that conditions on different elements of one resource
// (two components, a name's parts) would give false matches without the
// checks in Go.
var searchFixture = []struct{ typ, id, json string }{
	{"Patient", "p1", `{"resourceType":"Patient","id":"p1","active":true,"gender":"male","birthDate":"1974-12-25",
		"name":[{"family":"Chalmers","given":["Peter","James"]}],
		"identifier":[{"system":"http://hospital/mrn","value":"123","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}]}`},
	{"Patient", "p2", `{"resourceType":"Patient","id":"p2","gender":"female","birthDate":"1980",
		"name":[{"family":"Chålmers","given":["Petra"]}],"managingOrganization":{"reference":"Organization/o1"}}`},
	{"Patient", "p3", `{"resourceType":"Patient","id":"p3","gender":"female","birthDate":"1980-05",
		"name":[{"family":"Smith"}],"telecom":[{"system":"email","value":"s@example.org"}]}`},
	{"Patient", "p4", `{"resourceType":"Patient","id":"p4"}`},
	{"Organization", "o1", `{"resourceType":"Organization","id":"o1","name":"Acme Health"}`},
	{"Observation", "obs1", `{"resourceType":"Observation","id":"obs1","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},
		"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-03-04T10:00:00Z",
		"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	{"Observation", "obs2", `{"resourceType":"Observation","id":"obs2","status":"preliminary",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Pulse"},
		"subject":{"reference":"Patient/p2"},"effectivePeriod":{"start":"2026-03-01","end":"2026-03-10"},
		"valueQuantity":{"value":100.0,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	{"Observation", "obs3", `{"resourceType":"Observation","id":"obs3","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
		"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-01",
		"component":[
		 {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
		 {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":90,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`},
	{"Observation", "obs4", `{"resourceType":"Observation","id":"obs4","status":"final",
		"code":{"coding":[{"code":"x"}]},"subject":{"reference":"Group/g1"},
		"valueQuantity":{"value":5,"code":"mg"}}`},
	{"Patient", "gone", `{"resourceType":"Patient","id":"gone","gender":"male"}`},
}

// loadFixture writes searchFixture (Patient/gone deleted again) and
// returns the store.
func loadFixture(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	spec := testSpec(t)
	s := openStore(t, t.TempDir())
	for i, f := range searchFixture {
		write(t, s, spec, f.typ, f.id, 1, epoch.Add(time.Duration(i)*time.Second), f.json)
	}
	del := storage.Write{Expected: 1, Resource: fhir.Resource{Type: "Patient", ID: "gone", Version: 2,
		LastUpdated: epoch.Add(time.Hour), Deleted: true, Method: "DELETE"}}
	if err := s.Write(ctx, del); err != nil {
		t.Fatal(err)
	}
	return s
}

func testSpec(t *testing.T) *conformance.Spec {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func write(t *testing.T, s *Store, spec *conformance.Spec, typ, id string, v int64, at time.Time, js string) {
	t.Helper()
	index, err := storage.Extract(spec, typ, []byte(js))
	if err != nil {
		t.Fatalf("Extract %s/%s: %v", typ, id, err)
	}
	method := "POST"
	if v > 1 {
		method = "PUT"
	}
	r := fhir.Resource{Type: typ, ID: id, Version: v, LastUpdated: at, Method: method, JSON: []byte(js)}
	if err := s.Write(context.Background(), storage.Write{Resource: r, Expected: v - 1, Index: index}); err != nil {
		t.Fatalf("Write %s/%s: %v", typ, id, err)
	}
}

// parse parses "Type?query" ("?query" for a system search).
func parse(t *testing.T, request string) *search.Query {
	t.Helper()
	typ, raw, _ := strings.Cut(request, "?")
	params, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	if typ != "" {
		types = []string{typ}
	}
	q, err := search.ParseQuery(testSpec(t), types, params, search.Options{Strict: true})
	if err != nil {
		t.Fatalf("ParseQuery %s: %v", request, err)
	}
	return q
}

// searchAll returns the ids of every match of q, reading pages of count.
func searchAll(t *testing.T, s *Store, q *search.Query, count int) []string {
	t.Helper()
	q.Count = count
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 50 {
			t.Fatalf("still paging after %d pages", pages)
		}
		page, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		for _, r := range page.Resources {
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			return ids
		}
		if len(page.Resources) != count {
			t.Fatalf("page of %d, not %d, with a Next cursor", len(page.Resources), count)
		}
		q.After = page.Next
	}
}

func TestSearchFilters(t *testing.T) {
	s := loadFixture(t)
	tests := []struct {
		request string
		want    string // ids in the default order, space-separated
	}{
		{"Patient?", "p1 p2 p3 p4"},
		{"Patient?name=chal", "p1 p2"},
		{"Patient?name=Chålmers", "p1 p2"},
		{"Patient?name=pet", "p1 p2"},
		{"Patient?name=james", "p1"},
		{"Patient?name:exact=Chalmers", "p1"},
		{"Patient?name:exact=chalmers", ""},
		{"Patient?name:contains=ALM", "p1 p2"},
		{"Patient?name:contains=mit", "p3"},
		{"Patient?name=chal&gender=female", "p2"},
		{"Patient?gender=male", "p1"},
		{"Patient?gender=male,female", "p1 p2 p3"},
		{"Patient?gender=|male", ""},
		{"Patient?gender=http://hl7.org/fhir/administrative-gender|male", "p1"},
		{"Patient?gender:not=male", "p2 p3 p4"},
		{"Patient?gender:missing=true", "p4"},
		{"Patient?gender:missing=false", "p1 p2 p3"},
		{"Patient?identifier=http://hospital/mrn|123", "p1"},
		{"Patient?identifier=123", "p1"},
		{"Patient?identifier=http://hospital/mrn|", "p1"},
		{"Patient?identifier=http://other|123", ""},
		{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123", "p1"},
		{"Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|124", ""},
		{"Patient?telecom=email|s@example.org", "p3"},
		{"Patient?birthdate=1980", "p2 p3"},
		{"Patient?birthdate=1980-05", "p3"},
		{"Patient?birthdate=ge1980-05", "p2 p3"},
		{"Patient?birthdate=lt1980", "p1"},
		{"Patient?birthdate=sa1975", "p2 p3"},
		{"Patient?birthdate=eb1980-05", "p1"},
		{"Patient?birthdate=ne1980", "p1"},
		{"Patient?birthdate=le1980-04", "p1 p2"},
		{"Patient?organization=Organization/o1", "p2"},
		{"Patient?organization=o1", "p2"},
		{"Patient?organization:Organization=o1", "p2"},
		{"Patient?organization.name=acme", "p2"},
		{"Patient?organization.name=other", ""},
		{"Patient?_has:Observation:subject:code=8867-4", "p1 p2"},
		{"Patient?_has:Observation:patient:code=85354-9", "p1"},
		{"Patient?_has:Observation:patient:value-quantity=gt90", "p2"},
		{"Organization?_has:Patient:organization:_has:Observation:patient:status=preliminary", "o1"},
		{"Patient?_id=p1,p3", "p1 p3"},
		{"Patient?_id=gone", ""},
		{"Observation?code=http://loinc.org|8867-4", "obs1 obs2"},
		{"Observation?code=8867-4", "obs1 obs2"},
		{"Observation?code=|x", "obs4"},
		{"Observation?code=http://loinc.org|", "obs1 obs2 obs3"},
		{"Observation?code:text=heart", "obs1"},
		{"Observation?code:text=puls", "obs2"},
		{"Observation?code:not=8867-4", "obs3 obs4"},
		{"Observation?status:in=http://hl7.org/fhir/ValueSet/observation-status", "obs1 obs2 obs3 obs4"},
		{"Observation?value-quantity=72", "obs1"},
		{"Observation?value-quantity=100", "obs2"},
		{"Observation?value-quantity=gt80", "obs2"},
		{"Observation?value-quantity=le72", "obs1 obs4"},
		{"Observation?value-quantity=ne72", "obs2 obs4"},
		{"Observation?value-quantity=ap70", "obs1"},
		{"Observation?value-quantity=100||/min", "obs2"},
		{"Observation?value-quantity=100|http://unitsofmeasure.org|/min", "obs2"},
		{"Observation?value-quantity=72|http://unitsofmeasure.org|mg", ""},
		{"Observation?value-quantity=5||mg", "obs4"},
		{"Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140", "obs3"},
		{"Observation?component-code-value-quantity=http://loinc.org|8462-4$gt140", ""},
		{"Observation?component-value-quantity=100", ""},
		{"Observation?component-value-quantity=90", "obs3"},
		{"Observation?date=2026-03-04", "obs1"},
		{"Observation?date=2026-03", "obs1 obs2"},
		{"Observation?date=ge2026-03-05", "obs2"},
		{"Observation?date=lt2026", "obs3"},
		{"Observation?subject=Patient/p1", "obs1 obs3"},
		{"Observation?subject=p1", "obs1 obs3"},
		{"Observation?subject=Group/g1", "obs4"},
		{"Observation?subject:Patient.gender=female", "obs2"},
		{"Observation?subject:Patient.name=smith", ""},
		{"Observation?patient.organization.name=acme", "obs2"},
		{"Observation?subject:Patient._has:Observation:subject:code=85354-9", "obs1 obs3"},
		{"Observation?status=final&subject:missing=false", "obs1 obs3 obs4"},
		{"?_id=p1,o1,obs1", "obs1 o1 p1"},
		{"?_type=Patient,Organization&_id=p1,o1,obs1", "o1 p1"},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			want := strings.Fields(tt.want)
			for _, count := range []int{100, 1, 2} {
				got := searchAll(t, s, parse(t, tt.request), count)
				if !slices.Equal(got, want) {
					t.Errorf("count %d: got %v, want %v", count, got, want)
				}
			}
		})
	}
}

// Every condition's MongoDB filter selects a superset of what its Go
// evaluation accepts, and exactly that when it claims to be exact.
func TestFilterAgreesWithEval(t *testing.T) {
	ctx := context.Background()
	s := loadFixture(t)
	var all []*currentDoc
	if err := findAll(ctx, s.resources, base(nil), &all); err != nil {
		t.Fatal(err)
	}
	requests := []string{
		"Patient?name=chal", "Patient?name:contains=e", "Patient?gender:not=male", "Patient?birthdate=1980",
		"Patient?birthdate=ne1980", "Patient?birthdate=ge1980-05", "Patient?birthdate=le1980-04",
		"Patient?birthdate=ap1980", "Patient?gender:missing=true", "Observation?value-quantity=100",
		"Observation?value-quantity=ne100", "Observation?value-quantity=100||/min",
		"Observation?component-value-quantity=100", "Observation?component-value-quantity=ap95",
		"Observation?component-code-value-quantity=http://loinc.org|8462-4$gt140",
		"Observation?date=2026-03", "Observation?date=ap2026-03-04", "Observation?code:not=8867-4,x",
		"Observation?code:not-in=http://hl7.org/fhir/ValueSet/observation-status",
		"Observation?status:not=final&date:missing=true",
	}
	for _, request := range requests {
		q := parse(t, request)
		c := &compiler{s: s, now: time.Now()}
		cd, err := c.filters(ctx, q.Types, q.Filters, 0)
		if err != nil {
			t.Fatalf("%s: %v", request, err)
		}
		var inMongo []*currentDoc
		if err := findAll(ctx, s.resources, where(q.Types, cd), &inMongo); err != nil {
			t.Fatalf("%s: %v", request, err)
		}
		mongoIDs := map[string]bool{}
		for _, d := range inMongo {
			mongoIDs[d.Key] = true
		}
		var evalIDs []string
		for _, d := range all {
			if slices.Contains(q.Types, d.Type) && cd.eval(newCandidate(d)) {
				evalIDs = append(evalIDs, d.Key)
				if !mongoIDs[d.Key] {
					t.Errorf("%s: MongoDB misses %s", request, d.Key)
				}
			}
		}
		if cd.exact() && len(evalIDs) != len(mongoIDs) {
			t.Errorf("%s is exact, but MongoDB selects %v and Go %v", request, mongoIDs, evalIDs)
		}
	}
}

func TestSearchSortAndPaging(t *testing.T) {
	s := loadFixture(t)
	tests := []struct {
		request string
		want    string
	}{
		{"Patient?_sort=birthdate", "p1 p2 p3 p4"},
		{"Patient?_sort=-birthdate", "p3 p2 p1 p4"},
		{"Patient?_sort=name", "p1 p2 p3 p4"},
		{"Patient?_sort=-name", "p3 p2 p1 p4"},
		{"Patient?_sort=gender,-birthdate", "p3 p2 p1 p4"},
		{"Patient?_sort=-gender,birthdate", "p1 p2 p3 p4"},
		{"Patient?_sort=organization,_id", "p2 p1 p3 p4"},
		{"Patient?_sort=-_id", "p4 p3 p2 p1"},
		{"Observation?_sort=-value-quantity", "obs2 obs1 obs4 obs3"},
		{"Observation?_sort=date&status=final", "obs3 obs1 obs4"},
		{"Observation?_sort=date&component-value-quantity=90", "obs3"},
		{"?_type=Patient,Observation&_sort=_id&_id=p1,obs2,p3", "obs2 p1 p3"},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			want := strings.Fields(tt.want)
			for count := 1; count <= len(want)+1; count++ {
				q := parse(t, tt.request)
				if got := searchAll(t, s, q, count); !slices.Equal(got, want) {
					t.Errorf("count %d: got %v, want %v", count, got, want)
				}
				if got := searchBackward(t, s, parse(t, tt.request), count); !slices.Equal(got, want) {
					t.Errorf("count %d, backward: got %v, want %v", count, got, want)
				}
			}
		})
	}
}

// searchBackward pages to the end with Next, then back to the start with
// Prev, and returns the ids collected on the way back.
func searchBackward(t *testing.T, s *Store, q *search.Query, count int) []string {
	t.Helper()
	ctx := context.Background()
	q.Count = count
	var page *storage.SearchPage
	for pages := 0; ; pages++ {
		var err error
		if page, err = s.Search(ctx, q); err != nil {
			t.Fatal(err)
		}
		if pages == 0 && page.Prev != "" {
			t.Errorf("first page has a Prev cursor")
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 50 {
			t.Fatalf("still paging back after %d pages", pages)
		}
		var batch []string
		for _, r := range page.Resources {
			batch = append(batch, r.ID)
		}
		ids = append(batch, ids...)
		if page.Prev == "" {
			return ids
		}
		if len(page.Resources) != count && pages > 0 {
			t.Fatalf("page of %d, not %d, with a Prev cursor", len(page.Resources), count)
		}
		q.After, q.Before = "", page.Prev
		var err error
		if page, err = s.Search(ctx, q); err != nil {
			t.Fatal(err)
		}
		if page.Next == "" {
			t.Errorf("page before another has no Next")
		}
	}
}

func TestSearchTotal(t *testing.T) {
	s := loadFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		request string
		count   int
		want    int
	}{
		{"Patient?_total=accurate", 2, 4},
		{"Patient?_total=accurate", 10, 4},
		{"Patient?_total=accurate&_summary=count", 0, 4},
		{"Patient?_total=accurate&name=chal", 1, 2},
		{"Observation?_total=accurate&component-value-quantity=90", 0, 1},
		{"Observation?_total=accurate&component-value-quantity=100", 0, 0},
		{"Patient?_total=estimate&name=chal", 1, 2},
		{"Observation?_total=estimate&component-value-quantity=90", 0, -1},
		{"Patient?_total=none", 1, -1},
	} {
		q := parse(t, tt.request)
		q.Count = tt.count
		page, err := s.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", tt.request, err)
		}
		if page.Total != tt.want {
			t.Errorf("%s count %d: total %d, want %d", tt.request, tt.count, page.Total, tt.want)
		}
		if tt.count == 0 && (len(page.Resources) > 0 || page.Next != "" || page.Prev != "") {
			t.Errorf("%s: count 0 gave %d resources, Next %q, Prev %q", tt.request, len(page.Resources), page.Next, page.Prev)
		}
	}
}

func TestSearchBadCursor(t *testing.T) {
	s := loadFixture(t)
	ctx := context.Background()
	q := parse(t, "Patient?_sort=birthdate")
	q.Count = 1
	page, err := s.Search(ctx, q)
	if err != nil || page.Next == "" {
		t.Fatalf("Search: %v, Next %q", err, page.Next)
	}
	other := parse(t, "Patient?_sort=-birthdate")
	other.After = page.Next
	for _, q := range []*search.Query{
		{Types: []string{"Patient"}, Count: 1, After: "garbage!"},
		{Types: []string{"Patient"}, Count: 1, Before: "e30"}, // {}
		{Types: []string{"Patient"}, Count: 1, After: page.Next[:len(page.Next)-2]},
		other,
	} {
		if _, err := s.Search(ctx, q); !errors.Is(err, storage.ErrBadCursor) {
			t.Errorf("After %q Before %q: %v, want ErrBadCursor", q.After, q.Before, err)
		}
	}
}

// Updates replace the index and deletions remove the resource from
// searches; ReadCurrent sees the same.
func TestSearchSeesWrites(t *testing.T) {
	s := loadFixture(t)
	ctx := context.Background()
	spec := testSpec(t)
	write(t, s, spec, "Patient", "p3", 2, epoch.Add(2*time.Hour),
		`{"resourceType":"Patient","id":"p3","gender":"male","name":[{"family":"Jones"}]}`)
	for request, want := range map[string]string{
		"Patient?name=smith":     "",
		"Patient?name=jones":     "p3",
		"Patient?gender=female":  "p2",
		"Patient?birthdate=1980": "p2",
	} {
		if got := searchAll(t, s, parse(t, request), 10); !slices.Equal(got, strings.Fields(want)) {
			t.Errorf("%s after update: %v, want %v", request, got, want)
		}
	}
	del := storage.Write{Expected: 2, Resource: fhir.Resource{Type: "Patient", ID: "p3", Version: 3,
		LastUpdated: epoch.Add(3 * time.Hour), Deleted: true, Method: "DELETE"}}
	if err := s.Write(ctx, del); err != nil {
		t.Fatal(err)
	}
	if got := searchAll(t, s, parse(t, "Patient?"), 10); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Errorf("after delete: %v", got)
	}
	got, err := s.ReadCurrent(ctx, []storage.Ref{{Type: "Patient", ID: "p1"}, {Type: "Patient", ID: "p3"}, {Type: "Patient", ID: "nope"},
		{Type: "Organization", ID: "o1"}, {Type: "Patient", ID: "p1"}, {Type: "Patient", ID: "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range got {
		keys = append(keys, fmt.Sprintf("%s/%s/%d", r.Type, r.ID, r.Version))
	}
	slices.Sort(keys)
	if want := []string{"Organization/o1/1", "Patient/p1/1"}; !slices.Equal(keys, want) {
		t.Errorf("ReadCurrent = %v, want %v", keys, want)
	}
}

func TestSearchBoundsIntermediateResults(t *testing.T) {
	s := loadFixture(t)
	defer func(n int) { maxIntermediate = n }(maxIntermediate)
	maxIntermediate = 1
	ctx := context.Background()
	for request, tooCostly := range map[string]bool{
		"Observation?subject:Patient.gender=male":       false,
		"Observation?subject:Patient.name=chal":         true,  // p1 and p2
		"Patient?_has:Observation:subject:status=final": false, // p1 (twice) and a Group
		"Patient?_has:Observation:subject:code=8867-4":  true,
	} {
		q := parse(t, request)
		q.Count = 10
		_, err := s.Search(ctx, q)
		var fe *fhir.Error
		if got := errors.As(err, &fe) && fe.Issues[0].Code == fhir.CodeTooCostly; got != tooCostly {
			t.Errorf("%s: %v, want too costly %t", request, err, tooCostly)
		}
	}
}

// Candidates that MongoDB selects but the Go check rejects, many of them
// in a row, neither shorten pages nor end the paging early.
func TestSearchPostFilterKeepsPagesFull(t *testing.T) {
	s := openStore(t, t.TempDir())
	spec := testSpec(t)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("o%02d", i)
		a, b := 150, 90 // 150 >= 99.5 and 90 < 100.5: a candidate for =100
		if i%13 == 12 {
			a, want = 100, append(want, id)
		}
		write(t, s, spec, "Observation", id, 1, epoch, fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final",
			"code":{"text":"bp"},"component":[{"code":{"text":"s"},"valueQuantity":{"value":%d}},
			{"code":{"text":"d"},"valueQuantity":{"value":%d}}]}`, id, a, b))
	}
	for _, count := range []int{1, 2, 5} {
		q := parse(t, "Observation?component-value-quantity=100")
		if got := searchAll(t, s, q, count); !slices.Equal(got, want) {
			t.Errorf("count %d: %v, want %v", count, got, want)
		}
		if got := searchBackward(t, s, parse(t, "Observation?component-value-quantity=100"), count); !slices.Equal(got, want) {
			t.Errorf("count %d, backward: %v, want %v", count, got, want)
		}
	}
	q := parse(t, "Observation?component-value-quantity=100&_total=accurate")
	q.Count = 1
	page, err := s.Search(context.Background(), q)
	if err != nil || page.Total != len(want) {
		t.Errorf("total %d, %v; want %d", page.Total, err, len(want))
	}
}
