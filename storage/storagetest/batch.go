package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// batchWrite is one write of a batch and the outcome the contract demands:
// nil, or ErrVersionConflict.
type batchWrite struct {
	r        fhir.Resource
	expected int64
	conflict bool
}

// writeBatch writes ws in one WriteBatch, checks each outcome and records
// the successful writes in the model.
func (f *fixture) writeBatch(t *testing.T, ws []batchWrite) {
	t.Helper()
	batch := make([]storage.Write, len(ws))
	for i, w := range ws {
		batch[i] = storage.Write{Resource: w.r, Expected: w.expected}
	}
	errs := f.s.WriteBatch(context.Background(), batch)
	if len(errs) != len(ws) {
		t.Fatalf("WriteBatch of %d writes returned %d errors", len(ws), len(errs))
	}
	for i, w := range ws {
		r := w.r
		switch {
		case w.conflict && !errors.Is(errs[i], storage.ErrVersionConflict):
			t.Errorf("write %d, %s/%s version %d at expected %d: %v, want ErrVersionConflict",
				i, r.Type, r.ID, r.Version, w.expected, errs[i])
		case !w.conflict && errs[i] != nil:
			t.Errorf("write %d, %s/%s version %d at expected %d: %v", i, r.Type, r.ID, r.Version, w.expected, errs[i])
		case !w.conflict:
			f.m.add(r)
		}
	}
}

// checkAll asserts that Read and ReadVersion of every resource in the
// model, and the system history, give the model's answers.
func (f *fixture) checkAll(t *testing.T) {
	t.Helper()
	seen := map[storage.Ref]bool{}
	for _, v := range f.m.versions {
		if ref := (storage.Ref{Type: v.Type, ID: v.ID}); !seen[ref] {
			seen[ref] = true
			f.checkCurrent(t, v.Type, v.ID)
		}
	}
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{})
}

// testWriteBatch checks that a batch of creates of two types writes them
// all, with their history.
func testWriteBatch(t *testing.T, s suite) {
	f := s.fresh(t)
	var ws []batchWrite
	for i := range 12 {
		typ := []string{"Observation", "Patient"}[i%2]
		ws = append(ws, batchWrite{r: version(typ, fmt.Sprintf("b%d", i), 1, at(i/3))})
	}
	f.writeBatch(t, ws)
	f.checkAll(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Observation"})
}

// testWriteBatchConflicts checks that the writes of a batch whose
// compare-and-swap fails get ErrVersionConflict and change nothing, while
// the others are written.
func testWriteBatchConflicts(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "one", 1, at(1)), 0)
	f.put(t, version("Patient", "two", 1, at(1)), 0)
	f.put(t, version("Patient", "two", 2, at(2)), 1)
	f.put(t, version("Patient", "three", 1, at(1)), 0)

	f.writeBatch(t, []batchWrite{
		{r: version("Patient", "one", 1, at(5)), conflict: true},                  // create of an existing resource
		{r: version("Patient", "one", 2, at(5)), expected: 1},                     // update
		{r: version("Patient", "two", 2, at(5)), expected: 1, conflict: true},     // stale expected
		{r: version("Patient", "new", 1, at(5))},                                  // create
		{r: version("Patient", "missing", 2, at(5)), expected: 1, conflict: true}, // update of a missing resource
		{r: deletion("Patient", "three", 2, at(5)), expected: 1},                  // delete
		{r: version("Patient", "two", 4, at(5)), expected: 2, conflict: true},     // version skips one
		{r: version("Observation", "new", 1, at(5))},                              // create
	})
	f.checkAll(t)
	for _, id := range []string{"one", "two", "missing"} {
		f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: id})
	}
}

// testWriteBatchEmpty checks that an empty batch returns no outcomes and
// writes nothing.
func testWriteBatchEmpty(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	for _, ws := range [][]storage.Write{nil, {}} {
		if errs := f.s.WriteBatch(context.Background(), ws); len(errs) != 0 {
			t.Errorf("WriteBatch(%#v) = %v, want no errors", ws, errs)
		}
	}
	f.checkAll(t)
}

// testWriteBatchSameResource checks that several writes of one resource in
// one batch apply in their order: consecutive versions all succeed, and a
// second create of the same resource conflicts with the first.
func testWriteBatchSameResource(t *testing.T, s suite) {
	f := s.fresh(t)
	f.writeBatch(t, []batchWrite{
		{r: version("Patient", "a", 1, at(1))},
		{r: version("Patient", "b", 1, at(1))},
		{r: version("Patient", "a", 2, at(2)), expected: 1},
		{r: version("Patient", "b", 1, at(2)), conflict: true},
		{r: deletion("Patient", "a", 3, at(3)), expected: 2},
		{r: version("Patient", "a", 4, at(4)), expected: 3},
	})
	f.checkAll(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "a"})
	f.checkHistory(t, storage.HistoryQuery{AtStart: at(2), AtEnd: at(3)})
}

// testWriteBatchCancelled checks that a batch given a cancelled context
// fails every write and writes nothing.
func testWriteBatchCancelled(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := f.s.WriteBatch(ctx, []storage.Write{
		{Resource: version("Patient", "a", 2, at(2)), Expected: 1},
		{Resource: version("Patient", "b", 1, at(2))},
	})
	if len(errs) != 2 {
		t.Fatalf("WriteBatch of 2 writes returned %d errors", len(errs))
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d with a cancelled context succeeded", i)
		}
	}
	f.checkCurrent(t, "Patient", "a")
	f.checkCurrent(t, "Patient", "b")
	f.checkHistory(t, storage.HistoryQuery{})
}

// testWriteBatchDurability checks that a batch's writes are there when the
// store's directory is opened again.
func testWriteBatchDurability(t *testing.T, s suite) {
	dir := t.TempDir()
	f := &fixture{s: s.open(t, dir)}
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.writeBatch(t, []batchWrite{
		{r: version("Patient", "a", 2, at(2)), expected: 1},
		{r: version("Patient", "b", 1, at(2))},
		{r: version("Observation", "c", 1, at(3))},
	})
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.s = s.open(t, dir)
	t.Cleanup(func() {
		if err := f.s.Close(); err != nil {
			t.Errorf("Close after reopening: %v", err)
		}
	})
	f.checkAll(t)
}
