package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// TestSearchResults covers what shapes a searchset: _sort, paging links,
// _total, _summary, _elements, system and POST searches, compartments,
// unknown parameters and invalid values, on searchFixture.
func TestSearchResults(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := startSearchFixture(t, b)
		t.Run("sort", func(t *testing.T) { runIDCases(t, srv, sortCases) })
		t.Run("paging", func(t *testing.T) { testPagingLinks(t, srv) })
		t.Run("total and summary", func(t *testing.T) { testTotalAndSummary(t, srv) })
		t.Run("system", func(t *testing.T) { runIDCases(t, srv, systemCases) })
		t.Run("post", func(t *testing.T) { testPostSearch(t, srv) })
		t.Run("compartment", func(t *testing.T) { runIDCases(t, srv, compartmentCases) })
		t.Run("compartment errors", func(t *testing.T) { testCompartmentErrors(t, srv) })
		t.Run("unknown parameters", func(t *testing.T) { testUnknownParameters(t, srv) })
		t.Run("invalid values", func(t *testing.T) { testInvalidValues(t, srv) })
	})
}

var sortCases = []idCase{
	// Birth dates: pat-b 1975, pat-a 1980-05-17, pat-c 1990-01-01, pat-d 2026-03-04.
	{query: "/fhir/Patient?_sort=birthdate", want: []string{"pat-b", "pat-a", "pat-c", "pat-d"}, ordered: true},
	{query: "/fhir/Patient?_sort=-birthdate", want: []string{"pat-d", "pat-c", "pat-a", "pat-b"}, ordered: true},
	// Two keys: female (pat-a 1980, pat-d 2026) before male (pat-b).
	{query: "/fhir/Patient?gender:missing=false&_sort=gender,-birthdate", want: []string{"pat-d", "pat-a", "pat-b"}, ordered: true},
	{query: "/fhir/Patient?gender:missing=false&_sort=-gender,birthdate", want: []string{"pat-b", "pat-a", "pat-d"}, ordered: true},
	// Heart rates: final (obs-1 03-04T09:00, obs-8 03-05T04:30) before
	// preliminary (obs-2), each status newest first.
	{query: "/fhir/Observation?code=8867-4&_sort=status,-date", want: []string{"obs-8", "obs-1", "obs-2"}, ordered: true},
	// Encounter periods: enc-3 (2025), enc-1 (03-04), enc-2 (03-05, open).
	{query: "/fhir/Encounter?_sort=date", want: []string{"enc-3", "enc-1", "enc-2"}, ordered: true},
	{query: "/fhir/Encounter?_sort=-date", want: []string{"enc-2", "enc-1", "enc-3"}, ordered: true},
	{query: "/fhir/RiskAssessment?probability:missing=false&_sort=-probability", want: []string{"ra-2", "ra-1"}, ordered: true},
	{query: "/fhir/Organization?_sort=-_id", want: []string{"org-3", "org-2", "org-1"}, ordered: true},
}

// testPagingLinks pages through the 8 Observations three at a time by
// following next, checks that previous, first and self work when followed,
// and that every Observation comes exactly once.
func testPagingLinks(t *testing.T, srv *servertest.Server) {
	first := search(t, srv, "/fhir/Observation?_count=3&_sort=_id")
	var pages [][]string
	var selves []string
	for b := first; ; {
		if b.Total == nil || *b.Total != 8 {
			t.Errorf("page %d: total %v, want 8", len(pages)+1, deref(b.Total))
		}
		pages = append(pages, b.ids("match"))
		selves = append(selves, b.link("self"))
		if b.link("first") == "" || b.link("self") == "" {
			t.Errorf("page %d lacks first or self: %+v", len(pages), b.Link)
		}
		next := b.link("next")
		if next == "" {
			break
		}
		if len(pages) > 4 {
			t.Fatalf("more than 4 pages of 3 for 8 resources: %v", pages)
		}
		b = search(t, srv, relative(t, srv, next))
	}
	want := [][]string{{"obs-1", "obs-2", "obs-3"}, {"obs-4", "obs-5", "obs-6"}, {"obs-7", "obs-8"}}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Fatalf("pages %v, want %v", pages, want)
	}
	if first.link("previous") != "" {
		t.Errorf("the first page has a previous link")
	}
	// The self link of page 2 gives page 2 again; its previous link page 1;
	// the last page's first link page 1.
	second := search(t, srv, relative(t, srv, selves[1]))
	if got := second.ids("match"); !slices.Equal(got, want[1]) {
		t.Errorf("self of page 2 gives %v", got)
	}
	prev := second.link("previous")
	if prev == "" {
		t.Fatalf("page 2 has no previous link: %+v", second.Link)
	}
	if got := search(t, srv, relative(t, srv, prev)).ids("match"); !slices.Equal(got, want[0]) {
		t.Errorf("previous of page 2 gives %v, want %v", got, want[0])
	}
	last := search(t, srv, relative(t, srv, selves[2]))
	if got := search(t, srv, relative(t, srv, last.link("first"))).ids("match"); !slices.Equal(got, want[0]) {
		t.Errorf("first gives %v, want %v", got, want[0])
	}
	// Going back from the last page twice reaches page 1.
	back := search(t, srv, relative(t, srv, last.link("previous")))
	if got := back.ids("match"); !slices.Equal(got, want[1]) {
		t.Errorf("previous of the last page gives %v, want %v", got, want[1])
	}
	if back.link("next") == "" {
		t.Errorf("a page reached backwards has no next link")
	}
	// The links keep the search: a paged, sorted, filtered search.
	var got []string
	for b := search(t, srv, "/fhir/Observation?code=8867-4&_sort=-date&_count=2"); ; {
		got = append(got, b.ids("match")...)
		if !strings.Contains(b.link("self"), "code=8867-4") || !strings.Contains(b.link("self"), "_sort=-date") {
			t.Errorf("self link %q lost the search", b.link("self"))
		}
		next := b.link("next")
		if next == "" {
			break
		}
		if len(got) > 3 {
			t.Fatalf("endless paging: %v", got)
		}
		b = search(t, srv, relative(t, srv, next))
	}
	if want := []string{"obs-8", "obs-1", "obs-2"}; !slices.Equal(got, want) {
		t.Errorf("paged sorted search gives %v, want %v", got, want)
	}
	// A system search pages across types: 4 Patients and 8 Observations.
	var sys []string
	for b := search(t, srv, "/fhir?_type=Patient,Observation&_count=5"); ; {
		sys = append(sys, b.refs("match")...)
		next := b.link("next")
		if next == "" || len(sys) > 12 {
			break
		}
		if !strings.Contains(next, "/fhir?") || !strings.Contains(next, "_type=Patient%2CObservation") {
			t.Errorf("system search next link %q", next)
		}
		b = search(t, srv, relative(t, srv, next))
	}
	if len(sys) != 12 || len(slices.Compact(sorted(sys))) != 12 {
		t.Errorf("system search pages: %v", sys)
	}
	// A page token the server never made is a 400.
	res := srv.Do(t, http.MethodGet, "/fhir/Observation?_page_token=bogus", nil)
	if res.Status != http.StatusBadRequest {
		t.Errorf("bogus page token: %d %s", res.Status, res.Body)
	}
}

func testTotalAndSummary(t *testing.T, srv *servertest.Server) {
	if b := search(t, srv, "/fhir/Observation?code=8867-4&_total=none"); b.Total != nil || len(b.ids("match")) != 3 {
		t.Errorf("_total=none: total %v, %d matches", deref(b.Total), len(b.ids("match")))
	}
	if b := search(t, srv, "/fhir/Observation?code=8867-4&_total=accurate&_count=1"); b.Total == nil || *b.Total != 3 || len(b.Entry) != 1 {
		t.Errorf("_total=accurate: total %v, %d entries", deref(b.Total), len(b.Entry))
	}
	if b := search(t, srv, "/fhir/Observation?code=8867-4&_summary=count"); b.Total == nil || *b.Total != 3 || len(b.Entry) != 0 {
		t.Errorf("_summary=count: total %v, %d entries", deref(b.Total), len(b.Entry))
	}
	if b := search(t, srv, "/fhir/Observation?_count=0"); b.Total == nil || *b.Total != 8 || len(b.Entry) != 0 {
		t.Errorf("_count=0: total %v, %d entries", deref(b.Total), len(b.Entry))
	}
	// _summary=true keeps summary elements (name, gender) and drops the
	// others (communication), marking the resource SUBSETTED; included
	// resources are complete.
	b := search(t, srv, "/fhir/Patient?_id=pat-a&_summary=true&_include=Patient:organization")
	if len(b.Entry) != 2 {
		t.Fatalf("_summary=true: %d entries", len(b.Entry))
	}
	pat := b.Entry[0].resource(t)
	if pat["name"] == nil || pat["gender"] == nil || pat["communication"] != nil || !strings.Contains(string(b.Entry[0].Resource), "SUBSETTED") {
		t.Errorf("_summary=true: %s", b.Entry[0].Resource)
	}
	if org := b.Entry[1].resource(t); org["identifier"] == nil || strings.Contains(string(b.Entry[1].Resource), "SUBSETTED") {
		t.Errorf("included resource under _summary: %s", b.Entry[1].Resource)
	}
	b = search(t, srv, "/fhir/Patient?_id=pat-a,pat-b&_elements=gender")
	if len(b.Entry) != 2 {
		t.Fatalf("_elements: %d entries", len(b.Entry))
	}
	for _, e := range b.Entry {
		r := e.resource(t)
		if r["gender"] == nil || r["id"] == nil || r["name"] != nil || r["birthDate"] != nil || !strings.Contains(string(e.Resource), "SUBSETTED") {
			t.Errorf("_elements=gender: %s", e.Resource)
		}
	}
	if !strings.Contains(b.link("self"), "_elements=gender") {
		t.Errorf("self link %q lost _elements", b.link("self"))
	}
}

var systemCases = []idCase{
	{query: "/fhir?_type=Patient,Observation&_id=pat-a,obs-1,org-1", want: []string{"pat-a", "obs-1"}},
	{query: "/fhir?_id=org-1,prac-1", want: []string{"org-1", "prac-1"}},
	{query: "/fhir/?_type=Encounter&_id=enc-2", want: []string{"enc-2"}},
	// A parameter every listed type has.
	{query: "/fhir?_type=Observation,Condition&patient=pat-b", want: []string{"obs-2", "obs-4", "cond-2"}},
}

func testPostSearch(t *testing.T, srv *servertest.Server) {
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	res := srv.Do(t, http.MethodPost, "/fhir/Observation/_search", []byte("code=8867-4&subject=pat-a%2Cpat-b"), form...)
	b := decodeSearchset(t, "POST _search", res)
	if got := b.ids("match"); !sameSet(got, []string{"obs-1", "obs-2"}) {
		t.Errorf("POST _search: %v", got)
	}
	// The self link is a GET that repeats the search.
	self := b.link("self")
	if !strings.Contains(self, "/fhir/Observation?") || strings.Contains(self, "_search") {
		t.Errorf("POST _search self link %q", self)
	}
	if got := search(t, srv, relative(t, srv, self)).ids("match"); !sameSet(got, []string{"obs-1", "obs-2"}) {
		t.Errorf("following the self link of a POST: %v", got)
	}
	// Parameters in the URL and the body are ANDed.
	res = srv.Do(t, http.MethodPost, "/fhir/Observation/_search?status=preliminary", []byte("code=8867-4"), form...)
	if got := decodeSearchset(t, "POST _search with a query", res).ids("match"); !sameSet(got, []string{"obs-2"}) {
		t.Errorf("POST _search with query and body: %v", got)
	}
	res = srv.Do(t, http.MethodPost, "/fhir/_search", []byte("_type=Patient&gender=male"), form...)
	if got := decodeSearchset(t, "POST /_search", res).ids("match"); !sameSet(got, []string{"pat-b"}) {
		t.Errorf("system POST _search: %v", got)
	}
	if res := srv.Do(t, http.MethodPost, "/fhir/Observation/_search", []byte(`{"code":"x"}`)); res.Status != http.StatusUnsupportedMediaType {
		t.Errorf("POST _search with a JSON body: %d", res.Status)
	}
	if res := srv.Do(t, http.MethodHead, "/fhir/Observation?code=8867-4", nil); res.Status != http.StatusOK || len(res.Body) != 0 {
		t.Errorf("HEAD search: %d with %d bytes", res.Status, len(res.Body))
	}
}

var compartmentCases = []idCase{
	// Patient compartment of pat-a: Observation via subject or performer.
	{query: "/fhir/Patient/pat-a/Observation", want: []string{"obs-1", "obs-3"}},
	{query: "/fhir/Patient/pat-a/Observation?code=8867-4", want: []string{"obs-1"}},
	{query: "/fhir/Patient/pat-a/Observation?_count=1&_sort=-_id", want: []string{"obs-3"}, ordered: true},
	{query: "/fhir/Patient/pat-a/Encounter", want: []string{"enc-1", "enc-3"}},
	{query: "/fhir/Patient/pat-a/Condition", want: []string{"cond-1"}},
	// pat-a herself, and pat-d, who links to her.
	{query: "/fhir/Patient/pat-a/Patient", want: []string{"pat-a", "pat-d"}},
	{query: "/fhir/Patient/nobody/Observation", want: nil},
	{query: "/fhir/Encounter/enc-1/Observation", want: []string{"obs-1"}},
	{query: "/fhir/Encounter/enc-1/Encounter", want: []string{"enc-1"}},
	{query: "/fhir/Practitioner/prac-1/Observation", want: []string{"obs-1"}},
	{query: "/fhir/Practitioner/prac-1/Patient", want: []string{"pat-a"}},
	{query: "/fhir/Practitioner/prac-1/Encounter", want: []string{"enc-1"}},
	{query: "/fhir/Device/dev-1/Observation", want: []string{"obs-7"}},
}

func testCompartmentErrors(t *testing.T, srv *servertest.Server) {
	b := search(t, srv, "/fhir/Patient/pat-a/Observation?_count=1&_sort=_id")
	self, next := b.link("self"), b.link("next")
	if !strings.Contains(self, "/fhir/Patient/pat-a/Observation?") || !strings.Contains(next, "/fhir/Patient/pat-a/Observation?") {
		t.Errorf("compartment links leave the compartment: self %q next %q", self, next)
	}
	if next != "" {
		if got := search(t, srv, relative(t, srv, next)).ids("match"); !slices.Equal(got, []string{"obs-3"}) {
			t.Errorf("compartment next page: %v", got)
		}
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/fhir/Patient/pat-a/Organization", http.StatusBadRequest}, // not in the Patient compartment
		{"/fhir/Organization/org-1/Patient", http.StatusBadRequest}, // Organization has no compartment
		{"/fhir/Patient/pat-a/Foo", http.StatusNotFound},
		{"/fhir/Foo/x/Observation", http.StatusNotFound},
		{"/fhir/Patient/a_b/Observation", http.StatusBadRequest}, // not a valid id
		{"/fhir/Patient/pat-a/Observation?date=2026-13", http.StatusBadRequest},
	} {
		res := srv.Do(t, http.MethodGet, tt.path, nil)
		if res.Status != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.path, res.Status, tt.status, res.Body)
			continue
		}
		firstIssue(t, res)
	}
}

func testUnknownParameters(t *testing.T, srv *servertest.Server) {
	strict := []string{"Prefer", "handling=strict"}
	for _, q := range []string{
		"/fhir/Patient?foo=bar&gender=male",
		"/fhir/Patient?gender:exact=male", // a modifier strings have, tokens not
		"/fhir/Patient?_has:Observation:patient:foo=1",
		"/fhir/Observation?subject:Patient.foo=1",
		// * without a source type would search every type that can refer
		// to the matches.
		"/fhir/Patient?_revinclude=*&_id=pat-a",
	} {
		name := unknownName(q)
		res := srv.Do(t, http.MethodGet, q, nil, strict...)
		if res.Status != http.StatusBadRequest {
			t.Errorf("strict %s: %d %s", q, res.Status, res.Body)
			continue
		}
		if is := firstIssue(t, res); !containsSub(is.Expression, name) && !strings.Contains(is.Diagnostics, name) {
			t.Errorf("strict %s: the outcome does not name %s: %s", q, name, res.Body)
		}
		// Lenient (the default, and handling=lenient): ignored, left out
		// of the self link, reported in an outcome entry.
		for _, h := range [][]string{nil, {"Prefer", "handling=lenient"}} {
			b := search(t, srv, q, h...)
			if strings.Contains(b.link("self"), url.QueryEscape(name)) || strings.Contains(b.link("self"), name) {
				t.Errorf("lenient %s: self link %q keeps the unknown parameter", q, b.link("self"))
			}
			var outcome *searchEntry
			for i := range b.Entry {
				if b.Entry[i].Search.Mode == "outcome" {
					outcome = &b.Entry[i]
				}
			}
			if outcome == nil || !strings.Contains(string(outcome.Resource), name) || outcome.resource(t)["resourceType"] != "OperationOutcome" {
				t.Errorf("lenient %s: no outcome entry naming %s: %+v", q, name, b.Entry)
			}
			if b.Total == nil || *b.Total != len(b.ids("match")) {
				t.Errorf("lenient %s: total %v counts the outcome", q, deref(b.Total))
			}
		}
	}
	b := search(t, srv, "/fhir/Patient?foo=bar&gender=male")
	if got := b.ids("match"); !slices.Equal(got, []string{"pat-b"}) {
		t.Errorf("lenient search with an unknown parameter: %v", got)
	}
	// Known ones give no outcome entry.
	if b := search(t, srv, "/fhir/Patient?gender=male", strict...); len(b.Entry) != 1 {
		t.Errorf("strict known search: %d entries", len(b.Entry))
	}
}

// unknownName is the unknown parameter of a testUnknownParameters query:
// its first parameter name.
func unknownName(q string) string {
	_, query, _ := strings.Cut(q, "?")
	name, _, _ := strings.Cut(query, "=")
	return name
}

// testInvalidValues: values that do not parse are 400s in lenient and
// strict handling alike, naming the parameter.
func testInvalidValues(t *testing.T, srv *servertest.Server) {
	for _, tt := range []struct{ query, param string }{
		{"/fhir/Observation?date=2026-13-01", "date"},
		{"/fhir/Observation?date=xx2026", "date"},
		{"/fhir/Observation?date=yesterday", "date"},
		{"/fhir/Observation?value-quantity=lots", "value-quantity"},
		{"/fhir/Observation?value-quantity=zz5", "value-quantity"},
		{"/fhir/RiskAssessment?probability=1,2,x", "probability"},
		{"/fhir/Patient?gender:missing=maybe", "gender:missing"},
		{"/fhir/Observation?subject=Medication/x", "subject"},
		{"/fhir/Patient?gender:in=http://example.org/no-such-valueset", "gender:in"},
		{"/fhir/Observation?component-code-value-quantity=8480-6", "component-code-value-quantity"},
		{"/fhir/Observation?_count=-1", "_count"},
		{"/fhir/Observation?_sort=nope", "_sort"},
		{"/fhir/Observation?_total=some", "_total"},
		{"/fhir/Observation?_include=Observation:nope", "_include"},
		{"/fhir?_type=Nope", "_type"},
	} {
		for _, h := range [][]string{nil, {"Prefer", "handling=strict"}} {
			res := srv.Do(t, http.MethodGet, tt.query, nil, h...)
			if res.Status != http.StatusBadRequest {
				t.Errorf("%s %v: %d, want 400: %s", tt.query, h, res.Status, res.Body)
				continue
			}
			if is := firstIssue(t, res); !containsSub(is.Expression, tt.param) {
				t.Errorf("%s: expression %v does not name %s (%s)", tt.query, is.Expression, tt.param, is.Diagnostics)
			}
		}
	}
}

// TestSearchAfterWrites: searches see the current version only. An
// update replaces the old index values; a deleted resource matches
// nothing, is not included, and no longer satisfies a chain or _has.
func TestSearchAfterWrites(t *testing.T) {
	servertest.EachBackend(t, func(t *testing.T, b servertest.Backend) {
		srv := servertest.StartBackend(t, b)
		put(t, srv,
			`{"resourceType":"Patient","id":"w1","name":[{"family":"Before"}]}`,
			`{"resourceType":"Patient","id":"w2","name":[{"family":"Stays"}]}`,
			`{"resourceType":"Observation","id":"wo1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/w1"}}`,
			`{"resourceType":"Observation","id":"wo2","status":"final","code":{"text":"y"},"subject":{"reference":"Patient/w2"}}`,
		)
		put(t, srv, `{"resourceType":"Patient","id":"w1","name":[{"family":"After"}]}`)
		runIDCases(t, srv, []idCase{
			{query: "/fhir/Patient?name=before", want: nil},
			{query: "/fhir/Patient?name=after", want: []string{"w1"}},
			{query: "/fhir/Observation?subject.name=after", want: []string{"wo1"}},
		})
		for _, path := range []string{"/fhir/Patient/w1", "/fhir/Observation/wo2"} {
			if res := srv.Do(t, http.MethodDelete, path, nil); res.Status != http.StatusNoContent {
				t.Fatalf("DELETE %s: %d", path, res.Status)
			}
		}
		runIDCases(t, srv, []idCase{
			{query: "/fhir/Patient?name=after", want: nil},
			{query: "/fhir/Patient", want: []string{"w2"}},
			{query: "/fhir/Observation?subject.name=after", want: nil},
			{query: "/fhir/Patient?_has:Observation:subject:code:text=y", want: nil},
			{query: "/fhir/Patient/w2/Observation", want: nil},
		})
		b1 := search(t, srv, "/fhir/Observation?_id=wo1&_include=Observation:subject")
		if inc := b1.refs("include"); len(inc) != 0 {
			t.Errorf("a deleted Patient was included: %v", inc)
		}
		b2 := search(t, srv, "/fhir/Patient?_id=w2&_revinclude=Observation:subject")
		if inc := b2.refs("include"); len(inc) != 0 {
			t.Errorf("a deleted Observation was rev-included: %v", inc)
		}
	})
}
