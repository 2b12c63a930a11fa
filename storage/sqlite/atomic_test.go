package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// TestAtomicRequestsInAGroupCommit commits atomic requests together with
// plain writes in one group commit: an atomic request that conflicts, or
// fails otherwise, leaves nothing behind (index rows and dictionary ids
// included) and does not fail the requests beside it.
func TestAtomicRequestsInAGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := func(id string, v int64, entries ...storage.IndexEntry) storage.Write {
		return storage.Write{Expected: v - 1, Index: entries, Resource: fhir.Resource{
			Type: "Observation", ID: id, Version: v, LastUpdated: time.Unix(v, 0), Method: "PUT", JSON: []byte(`{}`)}}
	}
	for _, w := range []storage.Write{w("ok", 1), w("bad", 1)} {
		if err := s.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// Without its history row, updating bad fails after its
	// compare-and-swap has already changed the current row.
	if _, err := s.writer.Exec(`DELETE FROM history WHERE id = 'bad'`); err != nil {
		t.Fatal(err)
	}
	// Each failing atomic request first writes a resource with a
	// parameter and a system the store has not seen, so that their ids
	// must be forgotten with the rollback.
	code := storage.IndexEntry{Param: "code", Type: conformance.ParamToken, System: "http://loinc.org", Code: "8867-4"}
	status := storage.IndexEntry{Param: "status", Type: conformance.ParamToken, System: "http://hl7.org/fhir/observation-status", Code: "final"}
	batch := []*writeRequest{
		{ws: []storage.Write{w("ok", 2)}, errs: make([]error, 1)},
		{ws: []storage.Write{w("failed", 1, code), w("bad", 2)}, atomic: true},
		{ws: []storage.Write{w("conflicted", 1, status), w("ok", 2)}, atomic: true},
		{ws: []storage.Write{w("new", 1)}, errs: make([]error, 1)},
		{ws: []storage.Write{w("other", 1, status), w("good", 1, code)}, atomic: true},
	}
	for _, req := range batch {
		req.ctx = ctx
	}
	s.commit(batch)

	for _, req := range []*writeRequest{batch[0], batch[3]} {
		if req.errs[0] != nil {
			t.Errorf("plain write of %s: %v", req.ws[0].Resource.ID, req.errs[0])
		}
	}
	var ae *storage.AtomicError
	if err := batch[1].err; !errors.As(err, &ae) || ae.Index != 1 || errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("atomic request with a failing write: %v, want an AtomicError for write 1, not a conflict", err)
	}
	if err := batch[2].err; !errors.As(err, &ae) || ae.Index != 1 || !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("atomic request with a conflict: %v, want an AtomicError for write 1, a conflict", err)
	}
	if err := batch[4].err; err != nil {
		t.Errorf("atomic request: %v", err)
	}
	for id, want := range map[string]int64{"ok": 2, "bad": 1, "new": 1, "other": 1, "good": 1, "failed": 0, "conflicted": 0} {
		r, err := s.Read(ctx, "Observation", id)
		switch {
		case want == 0 && !errors.Is(err, storage.ErrNotFound):
			t.Errorf("Read %s: %v, %v; want ErrNotFound", id, r, err)
		case want > 0 && (err != nil || r.Version != want):
			t.Errorf("Read %s: %v, %v; want version %d", id, r, err, want)
		}
	}
	if got := searchIDs(t, s, "Observation?code=http://loinc.org%7C8867-4"); !slices.Equal(got, []string{"good"}) {
		t.Errorf("code search: %v, want [good]", got)
	}
	if got := searchIDs(t, s, "Observation?status=http://hl7.org/fhir/observation-status%7Cfinal"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("status search: %v, want [other]", got)
	}
	for _, table := range []string{"params", "terms"} {
		var n int
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 2 {
			t.Errorf("%s has %d rows (%v), want 2", table, n, err)
		}
	}
}

// BenchmarkWriteAtomic measures transactions of 100 new Observations
// (every index entry the extractor gives), the shape of a transaction
// Bundle from a device gateway, from 1 and from 8 concurrent callers,
// whose transactions share group commits.
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkWriteAtomic -benchtime 200x
func BenchmarkWriteAtomic(b *testing.B) {
	const size = 100
	jsons, index := benchObservations(b, nil)
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s := benchStore(b)
			var round atomic.Int64
			b.SetParallelism(callers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ws := make([]storage.Write, size)
				for pb.Next() {
					r := int(round.Add(1))
					for k := range ws {
						ws[k] = storage.Write{Index: index[k], Resource: fhir.Resource{
							Type: "Observation", ID: fmt.Sprintf("o%d-%d", r, k), Version: 1, Method: "POST",
							LastUpdated: genEpoch.Add(time.Duration(r*size+k) * time.Microsecond), JSON: jsons[k]}}
					}
					if err := s.WriteAtomic(context.Background(), ws); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}

// TestAtomicCreatesOfOneResource checks that of two creates of one
// resource in a run of creates (which the writer inserts together) the
// second is the conflict, and nothing of the call is written.
func TestAtomicCreatesOfOneResource(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ws []storage.Write
	for i := range 40 {
		ws = append(ws, patientCreate(fmt.Sprintf("p%d", i)))
	}
	ws = append(ws, patientCreate("p7"), patientCreate("last"))
	var ae *storage.AtomicError
	if err := s.WriteAtomic(ctx, ws); !errors.As(err, &ae) || ae.Index != 40 || !errors.Is(err, storage.ErrVersionConflict) {
		t.Fatalf("WriteAtomic: %v, want a conflict of write 40", err)
	}
	for _, id := range []string{"p0", "p7", "p39", "last"} {
		if _, err := s.Read(ctx, "Patient", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Read %s: %v, want not found", id, err)
		}
	}
	if err := s.WriteAtomic(ctx, ws[:40]); err != nil {
		t.Fatalf("WriteAtomic without the second create: %v", err)
	}
	if r, err := s.Read(ctx, "Patient", "p39"); err != nil || r.Version != 1 {
		t.Errorf("Read p39: %v, %v", r, err)
	}
}
