package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// atomicFresh opens an empty store for a WriteAtomic test. A store that
// answers ErrNoTransactions skips the test, but only after the suite has
// checked that the refused call wrote nothing; any other failure of the
// first call fails it. The first call's resource, Basic/probe, stays in
// the store and the model.
func (s suite) atomicFresh(t *testing.T) *fixture {
	t.Helper()
	f := s.fresh(t)
	probe := version("Basic", "probe", 1, at(0))
	err := f.s.WriteAtomic(context.Background(), []storage.Write{{Resource: probe}})
	if errors.Is(err, storage.ErrNoTransactions) {
		f.checkCurrent(t, "Basic", "probe")
		f.checkHistory(t, storage.HistoryQuery{})
		t.Skipf("the store refuses WriteAtomic: %v", err)
	}
	if err != nil {
		t.Fatalf("WriteAtomic of one create: %v", err)
	}
	f.m.add(probe)
	return f
}

// writeAtomic writes ws in one WriteAtomic, which must succeed, and records
// them in the model.
func (f *fixture) writeAtomic(t *testing.T, ws []storage.Write) {
	t.Helper()
	if err := f.s.WriteAtomic(context.Background(), ws); err != nil {
		t.Fatalf("WriteAtomic of %d writes: %v", len(ws), err)
	}
	for _, w := range ws {
		f.m.add(w.Resource)
	}
}

// refuseAtomic writes ws in one WriteAtomic, which must fail with an
// AtomicError naming ws[index] (wrapping ErrVersionConflict when conflict),
// and checks that nothing of ws was written.
func (f *fixture) refuseAtomic(t *testing.T, ws []storage.Write, index int, conflict bool) {
	t.Helper()
	err := f.s.WriteAtomic(context.Background(), ws)
	var ae *storage.AtomicError
	switch {
	case !errors.As(err, &ae):
		t.Errorf("WriteAtomic: %v, want an AtomicError", err)
	case ae.Index != index:
		t.Errorf("WriteAtomic: %v, want the failure of write %d", err, index)
	case conflict != errors.Is(err, storage.ErrVersionConflict):
		t.Errorf("WriteAtomic: %v; a conflict: %t, want %t", err, !conflict, conflict)
	}
	f.checkAll(t)
	for _, w := range ws {
		f.checkCurrent(t, w.Resource.Type, w.Resource.ID)
		f.checkVersion(t, w.Resource.Type, w.Resource.ID, w.Resource.Version)
	}
}

// testAtomicWrites checks that creates, updates, a deletion and a
// re-creation in one WriteAtomic are all written, with their history.
func testAtomicWrites(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "b", 1, at(1)), 0)
	f.put(t, version("Patient", "gone", 1, at(1)), 0)
	f.put(t, deletion("Patient", "gone", 2, at(2)), 1)
	f.writeAtomic(t, []storage.Write{
		{Resource: version("Patient", "c", 1, at(5))},
		{Resource: version("Patient", "a", 2, at(5)), Expected: 1},
		{Resource: deletion("Patient", "b", 2, at(5)), Expected: 1},
		{Resource: version("Patient", "gone", 3, at(5)), Expected: 2},
		{Resource: version("Observation", "d", 1, at(5))},
	})
	f.checkAll(t)
	f.checkHistory(t, storage.HistoryQuery{AtStart: at(4), AtEnd: at(6)})
	// An empty call writes nothing and succeeds.
	for _, ws := range [][]storage.Write{nil, {}} {
		if err := f.s.WriteAtomic(context.Background(), ws); err != nil {
			t.Errorf("WriteAtomic(%#v): %v", ws, err)
		}
	}
	f.checkAll(t)
}

// testAtomicConflict checks that one failed compare-and-swap among 50
// writes (creates and updates) fails the whole call: nothing is written,
// and the AtomicError names that write.
func testAtomicConflict(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	for i := range 10 {
		f.put(t, version("Patient", fmt.Sprintf("e%d", i), 1, at(1)), 0)
	}
	f.put(t, version("Patient", "e0", 2, at(2)), 1)
	// ws updates e0…e9 and creates n10…n49.
	ws := func() []storage.Write {
		ws := make([]storage.Write, 50)
		for i := range ws {
			if i < 10 {
				cur, _ := f.m.current("Patient", fmt.Sprintf("e%d", i))
				ws[i] = storage.Write{Resource: version("Patient", cur.ID, cur.Version+1, at(5)), Expected: cur.Version}
			} else {
				ws[i] = storage.Write{Resource: version("Patient", fmt.Sprintf("n%d", i), 1, at(5))}
			}
		}
		return ws
	}
	tests := []struct {
		name  string
		index int
		spoil func(w *storage.Write)
	}{
		{"stale expected", 0, func(w *storage.Write) { w.Resource.Version, w.Expected = 2, 1 }},
		{"update of a missing resource", 37, func(w *storage.Write) { w.Resource.Version, w.Expected = 2, 1 }},
		{"create of an existing resource", 49, func(w *storage.Write) { w.Resource.ID = "e3" }},
		{"version skips one", 5, func(w *storage.Write) { w.Resource.Version++ }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := ws()
			tt.spoil(&ws[tt.index])
			f.refuseAtomic(t, ws, tt.index, true)
		})
	}
	// Unspoiled, the same writes succeed.
	f.writeAtomic(t, ws())
	f.checkAll(t)
}

// testAtomicRefused checks that a write the store refuses other than by a
// conflict fails the whole call, with nothing written.
func testAtomicRefused(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	ws := []storage.Write{
		{Resource: version("Patient", "a", 2, at(2)), Expected: 1},
		{Resource: version("Patient", "b", 1, at(2))},
		{Resource: version("Patient", "", 1, at(2))},
		{Resource: version("Patient", "c", 1, at(2))},
	}
	f.refuseAtomic(t, ws, 2, false)
}

// testAtomicSameResource checks that writes of one resource in one call
// apply in order: consecutive versions succeed together, and a second
// create of the same resource fails the call.
func testAtomicSameResource(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	f.writeAtomic(t, []storage.Write{
		{Resource: version("Patient", "a", 1, at(1))},
		{Resource: version("Patient", "b", 1, at(1))},
		{Resource: version("Patient", "a", 2, at(2)), Expected: 1},
		{Resource: deletion("Patient", "a", 3, at(3)), Expected: 2},
		{Resource: version("Patient", "a", 4, at(4)), Expected: 3},
	})
	f.checkAll(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "a"})
	f.checkHistory(t, storage.HistoryQuery{AtStart: at(2), AtEnd: at(3)})
	f.refuseAtomic(t, []storage.Write{
		{Resource: version("Patient", "c", 1, at(5))},
		{Resource: version("Patient", "b", 2, at(5)), Expected: 1},
		{Resource: version("Patient", "c", 1, at(5))},
	}, 2, true)
}

// testAtomicConcurrent races workers that each update an overlapping pair
// of resources in one WriteAtomic (read both, write both next versions)
// until each has won once: exactly one worker may have each version of
// each resource, and a winner has both of its versions.
func testAtomicConcurrent(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	ctx := context.Background()
	const resources = 3
	for i := range resources {
		f.put(t, version("Patient", fmt.Sprintf("hot%d", i), 1, epoch), 0)
	}
	const tries = 500
	var (
		mu     sync.Mutex
		winner = map[string]int{} // "id/version" → worker that wrote it
		wg     sync.WaitGroup
	)
	for w := range workers {
		ids := []string{fmt.Sprintf("hot%d", w%resources), fmt.Sprintf("hot%d", (w+1)%resources)}
		wg.Go(func() {
			for range tries {
				ws := make([]storage.Write, len(ids))
				for i, id := range ids {
					cur, err := f.s.Read(ctx, "Patient", id)
					if err != nil {
						t.Errorf("worker %d: Read %s: %v", w, id, err)
						return
					}
					v := cur.Version + 1
					ws[i] = storage.Write{Resource: version("Patient", id, v, epoch.Add(time.Duration(v)*time.Millisecond)), Expected: cur.Version}
				}
				err := f.s.WriteAtomic(ctx, ws)
				if errors.Is(err, storage.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: WriteAtomic: %v", w, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, w2 := range ws {
					key := fmt.Sprintf("%s/%d", w2.Resource.ID, w2.Resource.Version)
					if other, dup := winner[key]; dup {
						t.Errorf("workers %d and %d both wrote %s", other, w, key)
					}
					winner[key] = w
					f.m.add(w2.Resource)
				}
				return
			}
			t.Errorf("worker %d: no successful WriteAtomic in %d tries", w, tries)
		})
	}
	wg.Wait()
	f.checkAll(t)
}

// testAtomicReadersSeeAllOrNone runs readers while transactions commit,
// each turning ten patients to the next version and flipping their gender:
// every Read of the ten together (ReadCurrent) must find one version, and
// every search by gender all ten or none.
func testAtomicReadersSeeAllOrNone(t *testing.T, s suite) {
	f := s.atomicFresh(t)
	const patients, rounds = 10, 30
	x := loadSpec(t).x
	refs := make([]storage.Ref, patients)
	for i := range refs {
		refs[i] = storage.Ref{Type: "Patient", ID: fmt.Sprintf("p%d", i)}
	}
	// round r's writes make version r+1 of every patient.
	round := func(r int) []storage.Write {
		gender := []string{"male", "female"}[r%2]
		ws := make([]storage.Write, patients)
		for i := range ws {
			id := refs[i].ID
			raw := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"gender":%q}`, id, gender)
			entries, err := x.Extract("Patient", []byte(raw))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			res := version("Patient", id, int64(r+1), at(r))
			res.JSON = []byte(raw)
			ws[i] = storage.Write{Resource: res, Expected: int64(r), Index: entries}
		}
		return ws
	}
	f.writeAtomic(t, round(0))
	byGender := []*search.Query{parseQuery(t, "Patient?gender=male"), parseQuery(t, "Patient?gender=female")}
	for _, q := range byGender {
		q.Count = 2 * patients
	}

	var (
		done  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
	)
	for reader := range 2 {
		wg.Go(func() {
			ctx := context.Background()
			for !done.Load() {
				reads.Add(1)
				if reader == 0 {
					rs, err := f.s.ReadCurrent(ctx, refs)
					if err != nil {
						t.Errorf("ReadCurrent: %v", err)
						return
					}
					versions := map[int64]bool{}
					for _, r := range rs {
						versions[r.Version] = true
					}
					if len(rs) != patients || len(versions) != 1 {
						t.Errorf("ReadCurrent found %d patients at versions %v, want %d at one version", len(rs), slices.Sorted(maps.Keys(versions)), patients)
						return
					}
					continue
				}
				for _, q := range byGender {
					page, err := f.s.Search(ctx, q)
					if err != nil {
						t.Errorf("Search: %v", err)
						return
					}
					if n := len(page.Resources); n != 0 && n != patients {
						t.Errorf("Search %v found %d patients, want 0 or %d", q.Filters, n, patients)
						return
					}
				}
			}
		})
	}
	for r := 1; r < rounds; r++ {
		f.writeAtomic(t, round(r))
	}
	done.Store(true)
	wg.Wait()
	if reads.Load() < rounds {
		t.Logf("only %d reads while %d transactions committed", reads.Load(), rounds)
	}
	f.checkSearch(t, byGender[(rounds-1)%2], idsOf(f.m.versions[len(f.m.versions)-patients:]))
}
