package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medbridge/medbridge/server/servertest"
)

// searchset is the part of a searchset Bundle the search tests read.
type searchset struct {
	ResourceType string
	Type         string
	Total        *int
	Link         []struct{ Relation, URL string }
	Entry        []searchEntry
}

type searchEntry struct {
	FullURL  string
	Resource json.RawMessage
	Search   struct{ Mode string }
}

// resource decodes an entry's resource into a generic map.
func (e *searchEntry) resource(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Resource, &m); err != nil {
		t.Fatalf("entry %s: %v", e.FullURL, err)
	}
	return m
}

// ref is "Type/id" of the entry's resource.
func (e *searchEntry) ref() string {
	var head struct{ ResourceType, ID string }
	_ = json.Unmarshal(e.Resource, &head)
	return head.ResourceType + "/" + head.ID
}

// id is the id of the entry's resource.
func (e *searchEntry) id() string {
	_, id, _ := strings.Cut(e.ref(), "/")
	return id
}

// search GETs path (relative to the server root, e.g. "/fhir/Patient?x=y")
// and returns the searchset, failing the test unless the answer is a 200
// searchset.
func search(t testing.TB, srv *servertest.Server, path string, header ...string) *searchset {
	t.Helper()
	res := srv.Do(t, http.MethodGet, path, nil, header...)
	return decodeSearchset(t, path, res)
}

func decodeSearchset(t testing.TB, what string, res *servertest.Response) *searchset {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, res.Status, res.Body)
	}
	var b searchset
	if err := json.Unmarshal(res.Body, &b); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, res.Body)
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		t.Fatalf("%s: not a searchset Bundle: %s", what, res.Body)
	}
	return &b
}

// ids returns the ids of the entries with search.mode mode, in bundle order.
func (b *searchset) ids(mode string) []string {
	out := []string{}
	for i := range b.Entry {
		if b.Entry[i].Search.Mode == mode {
			out = append(out, b.Entry[i].id())
		}
	}
	return out
}

// refs returns "Type/id" of the entries with search.mode mode, in bundle order.
func (b *searchset) refs(mode string) []string {
	out := []string{}
	for i := range b.Entry {
		if b.Entry[i].Search.Mode == mode {
			out = append(out, b.Entry[i].ref())
		}
	}
	return out
}

// link returns the URL of the link with relation rel, "" if none.
func (b *searchset) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// sorted returns a sorted copy of s, for order-insensitive comparisons.
func sorted(s []string) []string {
	c := slices.Clone(s)
	if c == nil {
		c = []string{}
	}
	slices.Sort(c)
	return c
}

// sameSet reports whether got and want hold the same strings, ignoring order.
func sameSet(got, want []string) bool {
	return slices.Equal(sorted(got), sorted(want))
}

// put stores resources (JSON with resourceType and id) with PUT, failing
// the test on any error.
func put(t testing.TB, srv *servertest.Server, resources ...string) {
	t.Helper()
	for _, r := range resources {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(r), &head); err != nil || head.ID == "" {
			t.Fatalf("fixture without resourceType/id (%v): %s", err, r)
		}
		res := srv.Do(t, http.MethodPut, "/fhir/"+head.ResourceType+"/"+head.ID, []byte(r))
		if res.Status != http.StatusCreated && res.Status != http.StatusOK {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
		}
	}
}

// relative turns an absolute link of srv into a path for srv.Do.
func relative(t testing.TB, srv *servertest.Server, link string) string {
	t.Helper()
	p, ok := strings.CutPrefix(link, srv.Root)
	if !ok {
		t.Fatalf("link %q is not under the server root %s", link, srv.Root)
	}
	return p
}

// idCase is one search and the ids it must match, in any order, or in
// the given order when ordered is set.
type idCase struct {
	query   string // path relative to the server root
	want    []string
	ordered bool
	// bug, when set, names a known store or parser bug that makes this
	// case fail; the case still runs and its failure is reported with it.
	bug string
}

// runIDCases runs each case as a subtest: the matches' ids must be want
// and, with the default _total, Bundle.total their number.
func runIDCases(t *testing.T, srv *servertest.Server, cases []idCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			b := search(t, srv, tc.query)
			got := b.ids("match")
			ok := sameSet(got, tc.want)
			if tc.ordered {
				ok = slices.Equal(got, tc.want)
			}
			note := ""
			if tc.bug != "" {
				note = " [known bug: " + tc.bug + "]"
			}
			if !ok {
				t.Errorf("%s: got %v, want %v%s", tc.query, got, tc.want, note)
			}
			if b.Total == nil || *b.Total != len(tc.want) && !strings.Contains(tc.query, "_count=") {
				t.Errorf("%s: total %v, want %d%s", tc.query, deref(b.Total), len(tc.want), note)
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return "absent"
	}
	return *p
}
