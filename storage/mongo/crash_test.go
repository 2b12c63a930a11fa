package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
	"github.com/medbridge/medbridge/storage/mongo/mongotest"
)

// These tests stop a Write between any two of its document writes, as a
// crash would, and check what readers see before and after Recover.

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), mongotest.Start(t, dir))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func patient(v int64, note string) fhir.Resource {
	lu := epoch.Add(time.Duration(v) * time.Second)
	method := "PUT"
	if v == 1 {
		method = "POST"
	}
	return fhir.Resource{
		Type: "Patient", ID: "p1", Version: v, LastUpdated: lu, Method: method,
		JSON: fmt.Appendf(nil, `{"resourceType":"Patient","id":"p1","meta":{"versionId":"%d"},"note":%q}`, v, note),
	}
}

func patientDeletion(v int64) fhir.Resource {
	return fhir.Resource{Type: "Patient", ID: "p1", Version: v, LastUpdated: epoch.Add(time.Duration(v) * time.Second),
		Deleted: true, Method: "DELETE"}
}

// writeSteps are Write's document writes in order.
var writeSteps = []struct {
	name string
	run  func(ctx context.Context, s *Store, d *currentDoc, expected int64) error
}{
	{"stage", func(ctx context.Context, s *Store, d *currentDoc, _ int64) error { return s.stage(ctx, d) }},
	{"commit", func(ctx context.Context, s *Store, d *currentDoc, expected int64) error {
		return s.commit(ctx, d, expected)
	}},
	{"supersede", func(ctx context.Context, s *Store, d *currentDoc, _ int64) error { return s.supersede(ctx, d) }},
	{"commitHistory", func(ctx context.Context, s *Store, d *currentDoc, _ int64) error { return s.commitHistory(ctx, d) }},
	{"clearPending", func(ctx context.Context, s *Store, d *currentDoc, _ int64) error { return s.clearPending(ctx, d) }},
}

func TestCrashBetweenSteps(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		before []fhir.Resource // written completely first
		write  fhir.Resource   // interrupted
	}{
		{"create", nil, patient(1, "a")},
		{"update", []fhir.Resource{patient(1, "a")}, patient(2, "b")},
		{"delete", []fhir.Resource{patient(1, "a"), patient(2, "b")}, patientDeletion(3)},
	}
	for _, c := range cases {
		for done := 0; done <= len(writeSteps); done++ {
			name := c.name + "/after_none"
			if done > 0 {
				name = c.name + "/after_" + writeSteps[done-1].name
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				s := openStore(t, dir)
				for _, r := range c.before {
					if err := s.Write(ctx, storage.Write{Resource: r, Expected: r.Version - 1}); err != nil {
						t.Fatal(err)
					}
				}
				d := newCurrentDoc(c.write)
				for _, st := range writeSteps[:done] {
					if err := st.run(ctx, s, d, c.write.Version-1); err != nil {
						t.Fatalf("%s: %v", st.name, err)
					}
				}
				want := slices.Clone(c.before)
				if done >= 2 { // committed
					want = append(want, c.write)
				}

				// Readers of the crashed store already see the committed state.
				checkView(t, s, want)

				// Restart the database and the store: Open recovers. (The
				// crashed store's connections are closed first only because
				// FerretDB takes seconds to stop with clients connected.)
				_ = s.Close()
				s = openStore(t, dir)
				checkView(t, s, want)
				checkDocs(t, s)

				// And the resource takes its next write.
				next := patient(int64(len(want))+1, "next")
				if err := s.Write(ctx, storage.Write{Resource: next, Expected: int64(len(want))}); err != nil {
					t.Fatalf("next Write: %v", err)
				}
				checkView(t, s, append(want, next))
				checkDocs(t, s)
			})
		}
	}
}

// A Write that finds the previous one stopped after its commit point
// finishes it and goes ahead, without Recover.
func TestWriteFinishesCrashedWrite(t *testing.T) {
	ctx := context.Background()
	for done := 2; done < len(writeSteps); done++ {
		t.Run("after_"+writeSteps[done-1].name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			if err := s.Write(ctx, storage.Write{Resource: patient(1, "a")}); err != nil {
				t.Fatal(err)
			}
			d := newCurrentDoc(patient(2, "b"))
			for _, st := range writeSteps[:done] {
				if err := st.run(ctx, s, d, 1); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
			}
			if err := s.Write(ctx, storage.Write{Resource: patient(3, "c"), Expected: 1}); !errors.Is(err, storage.ErrVersionConflict) {
				t.Fatalf("Write at a stale version: %v, want ErrVersionConflict", err)
			}
			if err := s.Write(ctx, storage.Write{Resource: patient(3, "c"), Expected: 2}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			checkView(t, s, []fhir.Resource{patient(1, "a"), patient(2, "b"), patient(3, "c")})
			checkDocs(t, s)
		})
	}
}

// Two writers stage the same version; the loser's staged document replaces
// the winner's, and the winner dies right after its commit point.
func TestLoserOverwritesCrashedWinner(t *testing.T) {
	ctx := context.Background()
	for _, loserCleansUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("cleanup=%t", loserCleansUp), func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			if err := s.Write(ctx, storage.Write{Resource: patient(1, "a")}); err != nil {
				t.Fatal(err)
			}
			winner, loser := newCurrentDoc(patient(2, "winner")), newCurrentDoc(patient(2, "loser"))
			loser.LastUpdated++ // distinguishable position too
			for _, d := range []*currentDoc{winner, loser} {
				if err := s.stage(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.commit(ctx, winner, 1); err != nil {
				t.Fatal(err)
			}
			if err := s.commit(ctx, loser, 1); !errors.Is(err, storage.ErrVersionConflict) {
				t.Fatalf("loser's commit: %v, want ErrVersionConflict", err)
			}
			if loserCleansUp {
				s.discard(ctx, loser)
			}
			want := []fhir.Resource{patient(1, "a"), patient(2, "winner")}
			checkReads(t, s, want)

			_ = s.Close()
			s = openStore(t, dir)
			checkView(t, s, want)
			checkDocs(t, s)
		})
	}
}

// A Write that fails its compare-and-swap leaves nothing behind.
func TestConflictLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if err := s.Write(ctx, storage.Write{Resource: patient(1, "a")}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []storage.Write{
		{Resource: patient(1, "again")},
		{Resource: patient(3, "skips"), Expected: 2},
		{Resource: patient(2, "bad"), Expected: 2},
	} {
		if err := s.Write(ctx, w); !errors.Is(err, storage.ErrVersionConflict) {
			t.Errorf("Write %d at %d: %v, want ErrVersionConflict", w.Resource.Version, w.Expected, err)
		}
	}
	checkView(t, s, []fhir.Resource{patient(1, "a")})
	checkDocs(t, s)
}

// checkReads asserts that Read and ReadVersion agree with want, the versions
// of Patient/p1 in order (empty: never written).
func checkReads(t *testing.T, s *Store, want []fhir.Resource) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Read(ctx, "Patient", "p1")
	if len(want) == 0 {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Read = %v, %v; want ErrNotFound", got, err)
		}
	} else if err != nil || !same(*got, want[len(want)-1]) {
		t.Errorf("Read = %v, %v; want %v", got, err, want[len(want)-1])
	}
	for v := int64(1); v <= int64(len(want))+1; v++ {
		got, err := s.ReadVersion(ctx, "Patient", "p1", v)
		if v > int64(len(want)) {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ReadVersion %d = %v, %v; want ErrNotFound", v, got, err)
			}
			continue
		}
		if err != nil || !same(*got, want[v-1]) {
			t.Errorf("ReadVersion %d = %v, %v; want %v", v, got, err, want[v-1])
		}
	}
}

// checkView asserts that Read, ReadVersion and History agree with want.
func checkView(t *testing.T, s *Store, want []fhir.Resource) {
	t.Helper()
	checkReads(t, s, want)
	newestFirst := slices.Clone(want)
	slices.Reverse(newestFirst)
	for _, q := range []storage.HistoryQuery{
		{Count: 10},
		{Type: "Patient", ID: "p1", Count: 1},
	} {
		var got []fhir.Resource
		for {
			page, err := s.History(context.Background(), q)
			if err != nil {
				t.Fatalf("History %+v: %v", q, err)
			}
			got = append(got, page.Versions...)
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		if !slices.EqualFunc(got, newestFirst, same) {
			t.Errorf("History %+v = %v, want %v", q, got, newestFirst)
		}
	}
	// Version 1 is current at an instant before version 2 was written.
	if len(want) >= 2 {
		q := storage.HistoryQuery{Count: 10, AtStart: want[0].LastUpdated, AtEnd: want[0].LastUpdated.Add(time.Microsecond)}
		page, err := s.History(context.Background(), q)
		if err != nil || len(page.Versions) != 1 || !same(page.Versions[0], want[0]) {
			t.Errorf("History at version 1 = %v, %v; want version 1", page.Versions, err)
		}
		q = storage.HistoryQuery{Count: 10, AtStart: want[1].LastUpdated, AtEnd: want[1].LastUpdated.Add(time.Microsecond)}
		page, err = s.History(context.Background(), q)
		if err != nil || len(page.Versions) != 1 || !same(page.Versions[0], want[1]) {
			t.Errorf("History at version 2 = %v, %v; want version 2", page.Versions, err)
		}
	}
}

// checkDocs asserts the stored documents are settled: nothing pending or
// uncommitted, one history document per version agreeing with the current
// document, and supersededAt chaining the versions.
func checkDocs(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	var currents []*currentDoc
	if err := findAll(ctx, s.resources, bson.D{}, &currents); err != nil {
		t.Fatal(err)
	}
	var hist []*historyDoc
	if err := findAll(ctx, s.history, bson.D{}, &hist); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*historyDoc{}
	for _, h := range hist {
		byKey[h.Key] = h
		if !h.Committed {
			t.Errorf("history %s is uncommitted", h.Key)
		}
	}
	n := 0
	for _, c := range currents {
		if c.Pending {
			t.Errorf("%s is pending", c.Key)
		}
		for v := int64(1); v <= c.Version; v++ {
			h := byKey[historyKey(c.Type, c.ID, v)]
			if h == nil {
				t.Errorf("%s has no history version %d", c.Key, v)
				continue
			}
			n++
			switch next := byKey[historyKey(c.Type, c.ID, v+1)]; {
			case v == c.Version && h.SupersededAt != nil:
				t.Errorf("current history %s has supersededAt", h.Key)
			case v < c.Version && next != nil && (h.SupersededAt == nil || *h.SupersededAt != next.LastUpdated):
				t.Errorf("history %s supersededAt = %v, want %d", h.Key, h.SupersededAt, next.LastUpdated)
			}
		}
		if h := byKey[historyKey(c.Type, c.ID, c.Version)]; h != nil && !same(*h.resource(), *c.resource()) {
			t.Errorf("history %s = %v, current = %v", h.Key, h.resource(), c.resource())
		}
	}
	if n != len(hist) {
		t.Errorf("%d history documents, %d versions", len(hist), n)
	}
}

func same(a, b fhir.Resource) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Version == b.Version && a.LastUpdated.Equal(b.LastUpdated) &&
		a.Deleted == b.Deleted && a.Method == b.Method && bytes.Equal(a.JSON, b.JSON)
}
