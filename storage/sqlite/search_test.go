package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// TestMigrateFromSchema1 opens a database written before search existed:
// its resources keep their versions and history, get keys, and searches
// find what is written from then on. (Resources written before have no
// index entries until they are written again.)
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), false))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{migrations[0], "PRAGMA user_version = 1"}
	for i := range 3 {
		for _, table := range []string{"resources", "history"} {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s (type, id, version, last_updated, deleted, method, json)
				VALUES ('Patient', 'old%d', 1, %d, 0, 'POST', CAST('{"resourceType":"Patient","id":"old%d"}' AS BLOB))`, table, i, i, i))
		}
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		r, err := s.Read(ctx, "Patient", fmt.Sprintf("old%d", i))
		if err != nil || r.Version != 1 {
			t.Fatalf("Read old%d after migrating: %v, %v", i, r, err)
		}
	}
	update := storage.Write{Expected: 1, Index: []storage.IndexEntry{{Param: "gender", Type: conformance.ParamToken, Code: "male"}},
		Resource: fhir.Resource{Type: "Patient", ID: "old1", Version: 2, LastUpdated: time.Unix(100, 0), Method: "PUT", JSON: []byte(`{}`)}}
	if err := s.Write(ctx, update); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, "Patient?gender=male"); !slices.Equal(got, []string{"old1"}) {
		t.Errorf("gender=male after migrating and updating: %v", got)
	}
	if got := searchIDs(t, s, "Patient?"); !slices.Equal(got, []string{"old0", "old1", "old2"}) {
		t.Errorf("every Patient after migrating: %v", got)
	}
}

// TestFailedBatchForgetsNewIDs checks that a write failing after it added
// a parameter and a system in its transaction leaves no trace in the
// writer's caches: the next write of that parameter adds it again.
func TestFailedBatchForgetsNewIDs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(id string, entries ...storage.IndexEntry) error {
		return s.Write(ctx, storage.Write{Index: entries, Resource: fhir.Resource{
			Type: "Observation", ID: id, Version: 1, LastUpdated: time.Unix(1, 0), Method: "POST", JSON: []byte(`{}`)}})
	}
	code := storage.IndexEntry{Param: "code", Type: conformance.ParamToken, System: "http://loinc.org", Code: "8867-4"}
	tooMany := storage.IndexEntry{Param: "code-value-quantity", Type: conformance.ParamComposite,
		Components: make([]storage.IndexEntry, 4)}
	if err := write("bad", code, tooMany); err == nil {
		t.Fatal("a composite entry with 4 components was written")
	}
	// Another parameter and system first: they get the ids the failed
	// write had assigned, which a stale cache would give to "code".
	status := storage.IndexEntry{Param: "status", Type: conformance.ParamToken, System: "http://hl7.org/fhir/observation-status", Code: "final"}
	if err := write("other", status); err != nil {
		t.Fatal(err)
	}
	if err := write("good", code); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, s, "Observation?code=http://loinc.org%7C8867-4"); !slices.Equal(got, []string{"good"}) {
		t.Errorf("code search after a failed write: %v", got)
	}
	if got := searchIDs(t, s, "Observation?status=http://hl7.org/fhir/observation-status%7Cfinal"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("status search after a failed write: %v", got)
	}
	for _, table := range []string{"params", "terms"} {
		var n int
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 2 {
			t.Errorf("%s has %d rows (%v), want 2", table, n, err)
		}
	}
}

// TestIndexRowsFollowTheCurrentVersion checks that an update replaces a
// resource's index rows and a deletion removes them, in every table.
func TestIndexRowsFollowTheCurrentVersion(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := genExtractor()
	if err != nil {
		t.Fatal(err)
	}
	_, _, js := genObservation(1, 7) // a blood pressure panel: composite rows too
	entries, err := x.Extract("Observation", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	rows := func() int {
		n := 0
		for _, table := range indexTables {
			var k int
			if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&k); err != nil {
				t.Fatal(err)
			}
			n += k
		}
		return n
	}
	r := fhir.Resource{Type: "Observation", ID: "o", Version: 1, LastUpdated: time.Unix(1, 0), Method: "POST", JSON: []byte(js)}
	for v := int64(1); v <= 3; v++ {
		r.Version = v
		if err := s.Write(ctx, storage.Write{Resource: r, Expected: v - 1, Index: entries}); err != nil {
			t.Fatal(err)
		}
		if n := rows(); n < len(entries) || n > 2*len(entries) {
			t.Fatalf("version %d: %d index rows for %d entries", v, n, len(entries))
		}
	}
	once := rows()
	del := fhir.Resource{Type: "Observation", ID: "o", Version: 4, LastUpdated: time.Unix(2, 0), Method: "DELETE", Deleted: true}
	if err := s.Write(ctx, storage.Write{Resource: del, Expected: 3, Index: entries}); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 0 {
		t.Errorf("%d index rows after the deletion (one version had %d), want 0", n, once)
	}
}

func searchIDs(t *testing.T, s *Store, request string) []string {
	t.Helper()
	spec, err := conformance.Load()
	if err != nil {
		t.Fatal(err)
	}
	typ, raw, _ := strings.Cut(request, "?")
	params, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.ParseQuery(spec, []string{typ}, params, search.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	q.Count = 1000
	page, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Resources {
		ids = append(ids, r.ID)
	}
	return ids
}
