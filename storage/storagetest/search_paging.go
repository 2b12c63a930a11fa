package storagetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// pagingObservation is Observation o<i> of the paging tests: dates in
// groups of four on the same day (ties), every seventh without a date,
// statuses alternating.
func pagingObservation(i int) string {
	date := fmt.Sprintf(`,"effectiveDateTime":"2026-01-%02d"`, 1+i/4)
	if i%7 == 3 {
		date = ""
	}
	status := []string{"final", "amended"}[i%2]
	return fmt.Sprintf(`{"resourceType":"Observation","id":"o%02d","status":%q,
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
	  "subject":{"reference":"Patient/p%d"}%s}`, i, status, i%3, date)
}

var pagingQueries = []string{
	"Observation?code=8867-4",
	"Observation?code=8867-4&_sort=date",
	"Observation?code=8867-4&_sort=-date",
	"Observation?code=8867-4&_sort=status,-date",
	"Observation?code=8867-4&_sort=-subject,date,-status",
	"Observation?",
	"Observation?_sort=-date",
}

// testSearchPaging checks that Next visits every match exactly once in
// order, and that Prev from the last page walks the same pages back.
func testSearchPaging(t *testing.T, s suite) {
	f := s.fresh(t)
	const n = 40
	for i := range n {
		f.save(t, pagingObservation(i))
	}
	for _, request := range pagingQueries {
		t.Run(request, func(t *testing.T) {
			q := parseQuery(t, request)
			q.Count = 1000
			all := idsOf(f.searchAll(t, q))
			if len(all) != n {
				t.Fatalf("one page holds %d matches, want %d", len(all), n)
			}
			for _, count := range []int{1, 3, 7, 40, 41} {
				q.Count = count
				forward := f.pages(t, q)
				if got := slices.Concat(forward...); !slices.Equal(got, all) {
					t.Fatalf("_count=%d: pages hold %v, want %v", count, got, all)
				}
				backward := f.pagesBack(t, q, len(forward))
				slices.Reverse(backward)
				if !slices.EqualFunc(backward, forward, slices.Equal) {
					t.Errorf("_count=%d: Prev from the last page gives\n%v\nwant\n%v", count, backward, forward)
				}
			}
		})
	}
}

// pages reads every page of q following Next and returns their ids,
// checking that only the first page has no Prev.
func (f *fixture) pages(t *testing.T, q *search.Query) [][]string {
	t.Helper()
	q.After, q.Before = "", ""
	defer func() { q.After = "" }()
	var pages [][]string
	for {
		page := f.search(t, q)
		if (len(pages) == 0) != (page.Prev == "") {
			t.Fatalf("_count=%d: page %d has Prev %q", q.Count, len(pages)+1, page.Prev)
		}
		pages = append(pages, idsOf(page.Resources))
		if page.Next == "" {
			return pages
		}
		if len(pages) > 100 {
			t.Fatal("too many pages")
		}
		q.After = page.Next
	}
}

// pagesBack reads q's last page (following Next), then follows Prev back
// to the first page, and returns the pages' ids from the last to the
// first. It checks that each page read backward has a Next.
func (f *fixture) pagesBack(t *testing.T, q *search.Query, want int) [][]string {
	t.Helper()
	q.After, q.Before = "", ""
	defer func() { q.After, q.Before = "", "" }()
	page := f.search(t, q)
	for page.Next != "" {
		q.After = page.Next
		page = f.search(t, q)
	}
	q.After = ""
	pages := [][]string{idsOf(page.Resources)}
	for page.Prev != "" {
		if len(pages) > want {
			t.Fatalf("_count=%d: more than %d pages backward", q.Count, want)
		}
		q.Before = page.Prev
		page = f.search(t, q)
		if page.Next == "" {
			t.Errorf("_count=%d: a page read with Before has no Next", q.Count)
		}
		pages = append(pages, idsOf(page.Resources))
	}
	return pages
}

func (f *fixture) search(t *testing.T, q *search.Query) *storage.SearchPage {
	t.Helper()
	page, err := f.s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search (After %q, Before %q): %v", q.After, q.Before, err)
	}
	if len(page.Resources) > q.Count {
		t.Fatalf("%d resources on a page of %d", len(page.Resources), q.Count)
	}
	return page
}

// testSearchPagingWhileWriting checks that paging visits every match that
// existed when it began exactly once while new matches keep coming, before
// and after the position reached.
func testSearchPagingWhileWriting(t *testing.T, s suite) {
	for _, request := range pagingQueries[:5] {
		t.Run(request, func(t *testing.T) {
			f := s.fresh(t)
			const n = 30
			for i := range n {
				f.save(t, pagingObservation(i))
			}
			q := parseQuery(t, request)
			q.Count = 4
			added := 0
			seen := map[string]int{}
			for pages := 0; ; pages++ {
				if pages > 50 {
					t.Fatal("too many pages")
				}
				page := f.search(t, q)
				for _, r := range page.Resources {
					seen[r.ID]++
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
				// New matches that sort first and last in every order
				// above (ids before and after o00..o99, dates around).
				f.save(t, newMatch(fmt.Sprintf("a%02d", added), "2025-06-01", "final"))
				f.save(t, newMatch(fmt.Sprintf("z%02d", added), "2027-06-01", "amended"))
				added++
			}
			for i := range n {
				id := fmt.Sprintf("o%02d", i)
				if seen[id] != 1 {
					t.Errorf("%s seen %d times, want once", id, seen[id])
				}
			}
			for id, k := range seen {
				if k > 1 {
					t.Errorf("%s seen %d times", id, k)
				}
			}
		})
	}
}

func newMatch(id, date, status string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":%q,
	  "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
	  "subject":{"reference":"Patient/p9"},"effectiveDateTime":%q}`, id, status, date)
}

// testSearchTotal checks Total for each _total and for _count=0.
func testSearchTotal(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	q := parseQuery(t, "Observation?code=8867-4,85354-9")
	for _, total := range []string{"accurate", "estimate", "none"} {
		for _, count := range []int{1000, 2} {
			q.Total, q.Count = total, count
			if n := len(f.searchAll(t, q)); n != 5 {
				t.Errorf("_total=%s _count=%d: %d matches, want 5", total, count, n)
			}
		}
	}
	q.Total, q.Count = "accurate", 0
	page := f.search(t, q)
	if len(page.Resources) != 0 || page.Total != 5 || page.Next != "" || page.Prev != "" {
		t.Errorf("_count=0: %d resources, Total %d, Next %q, Prev %q; want none, 5 and no cursors",
			len(page.Resources), page.Total, page.Next, page.Prev)
	}
	q = parseQuery(t, "Observation?code=nothing")
	q.Total = "accurate"
	if page := f.search(t, q); len(page.Resources) != 0 || page.Total != 0 || page.Next != "" {
		t.Errorf("no match: %d resources, Total %d, Next %q", len(page.Resources), page.Total, page.Next)
	}
}

// testSearchBadCursor checks that cursors the store did not make, or made
// for another sort order, are ErrBadCursor.
func testSearchBadCursor(t *testing.T, s suite) {
	f := s.loadSearchWorld(t)
	q := parseQuery(t, "Observation?_sort=date")
	q.Count = 2
	next := f.search(t, q).Next
	if next == "" {
		t.Fatal("no Next cursor")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for name, c := range map[string]struct{ query, after, before string }{
		"garbage":           {"Observation?_sort=date", "not a cursor!", ""},
		"base64 garbage":    {"Observation?_sort=date", b64([]byte("\x00\x01garbage")), ""},
		"empty JSON":        {"Observation?_sort=date", b64([]byte("{}")), ""},
		"JSON array":        {"Observation?_sort=date", b64([]byte("[1,2,3]")), ""},
		"another sort":      {"Observation?_sort=-date", next, ""},
		"no sort":           {"Observation?", next, ""},
		"another sort back": {"Observation?_sort=status", "", next},
		"truncated":         {"Observation?_sort=date", next[:len(next)/2], ""},
	} {
		t.Run(name, func(t *testing.T) {
			q := parseQuery(t, c.query)
			q.After, q.Before = c.after, c.before
			page, err := f.s.Search(context.Background(), q)
			if !errors.Is(err, storage.ErrBadCursor) {
				n := -1
				if page != nil {
					n = len(page.Resources)
				}
				t.Errorf("got %d resources, %v; want ErrBadCursor", n, err)
			}
		})
	}
}

// testSearchCursorSurvivesRestart checks that a cursor made before the
// store closed continues the search after it is opened again.
func testSearchCursorSurvivesRestart(t *testing.T, s suite) {
	dir := t.TempDir()
	f := &fixture{s: s.open(t, dir)}
	for i := range 12 {
		f.save(t, pagingObservation(i))
	}
	q := parseQuery(t, "Observation?code=8867-4&_sort=-date")
	q.Count = 5
	first := f.search(t, q)
	q.After = first.Next
	want := idsOf(f.search(t, q).Resources)
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.s = s.open(t, dir)
	t.Cleanup(func() { f.s.Close() })
	page := f.search(t, q)
	if got := idsOf(page.Resources); !slices.Equal(got, want) {
		t.Errorf("after reopening: %v, want %v", got, want)
	}
	q.After, q.Before = "", page.Prev
	if got, want := idsOf(f.search(t, q).Resources), idsOf(first.Resources); !slices.Equal(got, want) {
		t.Errorf("Prev after reopening: %v, want %v", got, want)
	}
}
