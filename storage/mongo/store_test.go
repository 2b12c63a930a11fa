package mongo

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo/mongotest"
)

func TestConfigure(t *testing.T) {
	w1 := writeconcern.W1()
	local := readconcern.Local()
	tests := []struct {
		uri          string
		opts         []Option
		database     string
		writeConcern string // "" for the URI's own
		readConcern  string
	}{
		{"mongodb://db.example/", nil, "medbridge", "majority/j", "majority"},
		{"mongodb://db.example", nil, "medbridge", "majority/j", "majority"},
		{"mongodb://db.example/fhir?replicaSet=rs0", nil, "fhir", "majority/j", "majority"},
		{"mongodb://db.example/fhir?w=1", nil, "fhir", "", "majority"},
		{"mongodb://db.example/?journal=false", nil, "medbridge", "", "majority"},
		{"mongodb://db.example/?readConcernLevel=local", nil, "medbridge", "majority/j", ""},
		{"mongodb://db.example/fhir", []Option{WithDatabase("other"), WithWriteConcern(w1), WithReadConcern(local)},
			"other", "1", "local"},
	}
	for _, tt := range tests {
		cfg, err := configure(tt.uri, tt.opts)
		if err != nil {
			t.Errorf("configure(%q): %v", tt.uri, err)
			continue
		}
		wc := ""
		if w := cfg.writeConcern; w != nil {
			wc = fmt.Sprint(w.W)
			if w.Journal != nil && *w.Journal {
				wc += "/j"
			}
		}
		rc := ""
		if cfg.readConcern != nil {
			rc = cfg.readConcern.Level
		}
		if cfg.database != tt.database || wc != tt.writeConcern || rc != tt.readConcern {
			t.Errorf("configure(%q) = database %q, write concern %q, read concern %q; want %q, %q, %q",
				tt.uri, cfg.database, wc, rc, tt.database, tt.writeConcern, tt.readConcern)
		}
	}
	if _, err := configure("http://db.example/", nil); err == nil {
		t.Errorf("configure accepted an http URI")
	}
}

// The document shapes are a format other code (search indexes, operators'
// queries) depends on.
func TestDocumentShapes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, mongotest.Start(t, t.TempDir())+"shapes")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.resources.Database().Name(); got != "shapes" {
		t.Errorf("database %q, want the URI's %q", got, "shapes")
	}
	v1, v2 := patient(1, "a"), patientDeletion(2)
	for _, r := range []fhir.Resource{v1, v2} {
		if err := s.Write(ctx, storage.Write{Resource: r, Expected: r.Version - 1}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(coll string, key string) bson.M {
		t.Helper()
		var m bson.M
		c := s.resources
		if coll == "history" {
			c = s.history
		}
		if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", coll, key, err)
		}
		delete(m, "txn") // random
		return m
	}
	want := map[string]bson.M{
		"resources Patient/p1": {"_id": "Patient/p1", "type": "Patient", "id": "p1", "version": int64(2),
			"lastUpdated": v2.LastUpdated.UnixMicro(), "deleted": true, "method": "DELETE", "pending": false},
		"history Patient/p1/1": {"_id": "Patient/p1/1", "type": "Patient", "id": "p1", "version": int64(1),
			"lastUpdated": v1.LastUpdated.UnixMicro(), "deleted": false, "method": "POST", "json": string(v1.JSON),
			"committed": true, "supersededAt": v2.LastUpdated.UnixMicro()},
		"history Patient/p1/2": {"_id": "Patient/p1/2", "type": "Patient", "id": "p1", "version": int64(2),
			"lastUpdated": v2.LastUpdated.UnixMicro(), "deleted": true, "method": "DELETE", "committed": true},
	}
	for what, w := range want {
		var coll, key string
		fmt.Sscan(what, &coll, &key)
		got := get(coll, key)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %v\nwant %v", what, got, w)
		}
	}
}

// Staged documents of unfinished Writes sit between visible versions in
// the history order; pages skip them and stay full.
func TestHistorySkipsStagedVersions(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var want []fhir.Resource // newest first
	for i := range 6 {
		r := patient(1, "")
		r.ID = fmt.Sprintf("p%d", i)
		r.LastUpdated = epoch.Add(time.Duration(i) * time.Second)
		if err := s.Write(ctx, storage.Write{Resource: r}); err != nil {
			t.Fatal(err)
		}
		want = append([]fhir.Resource{r}, want...)
		// A Write that never committed, just after r in the order...
		lost := patient(2, "lost")
		lost.ID = r.ID
		lost.LastUpdated = r.LastUpdated
		if err := s.stage(ctx, newCurrentDoc(lost)); err != nil {
			t.Fatal(err)
		}
		// ...and a resource whose create never committed.
		ghost := patient(1, "ghost")
		ghost.ID = fmt.Sprintf("q%d", i)
		ghost.LastUpdated = r.LastUpdated
		if err := s.stage(ctx, newCurrentDoc(ghost)); err != nil {
			t.Fatal(err)
		}
	}
	for _, count := range []int{1, 2, 4, 10} {
		var got []fhir.Resource
		q := storage.HistoryQuery{Count: count}
		for {
			page, err := s.History(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.Next != nil && len(page.Versions) != count {
				t.Fatalf("Count %d: page of %d with a Next cursor", count, len(page.Versions))
			}
			got = append(got, page.Versions...)
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		if len(got) != len(want) {
			t.Fatalf("Count %d: %d versions, want %d", count, len(got), len(want))
		}
		for i := range got {
			if !same(got[i], want[i]) {
				t.Errorf("Count %d: version %d is %s/%s, want %s/%s", count, i, got[i].ID, got[i].JSON, want[i].ID, want[i].JSON)
			}
		}
	}
}
