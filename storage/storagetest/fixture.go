package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// epoch has a sub-millisecond part so that a store keeping less than the
// promised microsecond precision fails the equality checks.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// at is the instant sec seconds after epoch.
func at(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }

// version is version v of typ/id as a create (v == 1) or update would write it.
func version(typ, id string, v int64, lastUpdated time.Time) fhir.Resource {
	method := "PUT"
	if v == 1 {
		method = "POST"
	}
	return fhir.Resource{
		Type:        typ,
		ID:          id,
		Version:     v,
		LastUpdated: lastUpdated,
		Method:      method,
		JSON: fmt.Appendf(nil, `{"resourceType":%q,"id":%q,"meta":{"versionId":"%d","lastUpdated":%q}}`,
			typ, id, v, lastUpdated.Format(fhir.InstantFormat)),
	}
}

// deletion is version v of typ/id as a delete writes it.
func deletion(typ, id string, v int64, lastUpdated time.Time) fhir.Resource {
	return fhir.Resource{Type: typ, ID: id, Version: v, LastUpdated: lastUpdated, Deleted: true, Method: "DELETE"}
}

// fixture is a store under test together with a model of what it must hold.
type fixture struct {
	s storage.Store
	m model
}

// put writes r at expected, which must succeed, and records it in the model.
func (f *fixture) put(t *testing.T, r fhir.Resource, expected int64) {
	t.Helper()
	if err := f.s.Write(context.Background(), storage.Write{Resource: r, Expected: expected}); err != nil {
		t.Fatalf("Write %s/%s version %d (expected %d): %v", r.Type, r.ID, r.Version, expected, err)
	}
	f.m.add(r)
}

// checkCurrent asserts that Read of typ/id returns the model's current version.
func (f *fixture) checkCurrent(t *testing.T, typ, id string) {
	t.Helper()
	want, ok := f.m.current(typ, id)
	got, err := f.s.Read(context.Background(), typ, id)
	if !ok {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Read %s/%s = %v, %v; want ErrNotFound", typ, id, got, err)
		}
		return
	}
	if err != nil {
		t.Errorf("Read %s/%s: %v", typ, id, err)
		return
	}
	checkResource(t, "Read", got, want)
}

// checkVersion asserts that ReadVersion of typ/id/v returns the model's
// version, or ErrNotFound when the model has none.
func (f *fixture) checkVersion(t *testing.T, typ, id string, v int64) {
	t.Helper()
	want, ok := f.m.version(typ, id, v)
	got, err := f.s.ReadVersion(context.Background(), typ, id, v)
	switch {
	case !ok && !errors.Is(err, storage.ErrNotFound):
		t.Errorf("ReadVersion %s/%s/%d = %v, %v; want ErrNotFound", typ, id, v, got, err)
	case ok && err != nil:
		t.Errorf("ReadVersion %s/%s/%d: %v", typ, id, v, err)
	case ok:
		checkResource(t, "ReadVersion", got, want)
	}
}

// checkAllVersions asserts that ReadVersion returns every version in the model.
func (f *fixture) checkAllVersions(t *testing.T) {
	t.Helper()
	for _, v := range f.m.versions {
		f.checkVersion(t, v.Type, v.ID, v.Version)
	}
}

// checkHistory asserts that every page size of q yields the model's answer.
func (f *fixture) checkHistory(t *testing.T, q storage.HistoryQuery) {
	t.Helper()
	want := f.m.history(q)
	for _, count := range []int{1000, 1, 2, 5} {
		q.Count = count
		got := collect(t, f.s, q, nil)
		checkVersions(t, fmt.Sprintf("History %+v", q), got, want)
	}
}

// collect reads every page of q, calling between (when not nil) after each
// page, and checks the paging contract: pages are full but for the last, and
// only the last has no Next.
func collect(t *testing.T, s storage.Store, q storage.HistoryQuery, between func()) []fhir.Resource {
	t.Helper()
	var all []fhir.Resource
	for pages := 0; ; pages++ {
		if pages > 250 {
			t.Fatalf("History %+v: still paging after %d pages", q, pages)
		}
		page, err := s.History(context.Background(), q)
		if err != nil {
			t.Fatalf("History %+v: %v", q, err)
		}
		if len(page.Versions) > q.Count {
			t.Fatalf("History %+v: %d versions on a page of %d", q, len(page.Versions), q.Count)
		}
		if pages > 0 && len(page.Versions) == 0 {
			t.Fatalf("History %+v: empty page %d; the previous page should have had no Next", q, pages)
		}
		all = append(all, page.Versions...)
		if page.Next == nil {
			return all
		}
		if len(page.Versions) < q.Count {
			t.Fatalf("History %+v: short page of %d with a Next cursor", q, len(page.Versions))
		}
		if between != nil {
			between()
		}
		q.After = page.Next
	}
}

// checkResource asserts that got is want, LastUpdated to the microsecond.
func checkResource(t *testing.T, op string, got *fhir.Resource, want fhir.Resource) {
	t.Helper()
	if got == nil {
		t.Errorf("%s %s/%s: nil resource", op, want.Type, want.ID)
		return
	}
	if !sameResource(*got, want) {
		t.Errorf("%s %s/%s:\n got %s\nwant %s", op, want.Type, want.ID, describe(*got), describe(want))
	}
}

// checkVersions asserts that got and want hold the same versions in the same order.
func checkVersions(t *testing.T, op string, got, want []fhir.Resource) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = sameResource(got[i], want[i])
	}
	if same {
		return
	}
	t.Errorf("%s: got %d versions, want %d", op, len(got), len(want))
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "-", "-"
		if i < len(got) {
			g = describe(got[i])
		}
		if i < len(want) {
			w = describe(want[i])
		}
		mark := "  "
		if g != w {
			mark = "!="
		}
		t.Logf("%2d %s got %s\n      want %s", i, mark, g, w)
	}
}

func sameResource(a, b fhir.Resource) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Version == b.Version &&
		a.LastUpdated.Equal(b.LastUpdated) && a.Deleted == b.Deleted &&
		a.Method == b.Method && bytes.Equal(a.JSON, b.JSON)
}

func describe(r fhir.Resource) string {
	return fmt.Sprintf("%s/%s/_history/%d %s deleted=%t %s %s", r.Type, r.ID, r.Version,
		r.LastUpdated.UTC().Format(fhir.InstantFormat), r.Deleted, r.Method, r.JSON)
}
