package sqlite

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

// TestCommitLeavesOutFailedWrite checks that a write failing inside a group
// commit for a reason other than a conflict is undone alone, and that the
// writes sharing its commit keep their own outcomes.
func TestCommitLeavesOutFailedWrite(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	patient := func(id string, v int64) storage.Write {
		return storage.Write{Expected: v - 1, Resource: fhir.Resource{
			Type: "Patient", ID: id, Version: v, LastUpdated: now.Add(time.Duration(v) * time.Second),
			Method: "PUT", JSON: []byte(`{"resourceType":"Patient"}`),
		}}
	}
	for _, w := range []storage.Write{patient("ok", 1), patient("bad", 1)} {
		if err := s.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// Without its history row, updating Patient/bad fails after its
	// compare-and-swap has already changed the current row.
	if _, err := s.writer.Exec(`DELETE FROM history WHERE id = 'bad'`); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		w           storage.Write
		wantErr     error // nil, ErrVersionConflict, or errAny
		wantVersion int64 // current version afterwards
	}{
		{patient("ok", 2), nil, 2},
		{patient("bad", 2), errAny, 1},
		{patient("new", 1), nil, 1},
		{patient("ok", 2), storage.ErrVersionConflict, 2}, // the first write took version 2
	}
	// Two requests of two writes each, as a WriteBatch and a group commit
	// would make them.
	var ws []storage.Write
	for _, tt := range tests {
		ws = append(ws, tt.w)
	}
	batch := []*writeRequest{
		{ctx: ctx, ws: ws[:2], errs: make([]error, 2)},
		{ctx: ctx, ws: ws[2:], errs: make([]error, 2)},
	}
	s.commit(batch)
	errs := append(batch[0].errs, batch[1].errs...)
	for i, tt := range tests {
		r := tt.w.Resource
		switch {
		case tt.wantErr == nil && errs[i] != nil,
			tt.wantErr == errAny && (errs[i] == nil || errors.Is(errs[i], storage.ErrVersionConflict)),
			tt.wantErr == storage.ErrVersionConflict && !errors.Is(errs[i], storage.ErrVersionConflict):
			t.Errorf("write %d (%s version %d): %v, want %v", i, r.ID, r.Version, errs[i], tt.wantErr)
		}
		cur, err := s.Read(ctx, "Patient", r.ID)
		if err != nil {
			t.Errorf("Read %s: %v", r.ID, err)
		} else if cur.Version != tt.wantVersion {
			t.Errorf("Patient/%s at version %d, want %d", r.ID, cur.Version, tt.wantVersion)
		}
	}
}

var errAny = errors.New("any error but a conflict")

// TestQueuedRowsFailingFailOnlyTheirWrite checks that when writing the
// queued index rows of a group commit fails (here a trigger refuses the
// number 13), the commit is tried again flushing write by write, and only
// the write whose row fails, or the atomic request holding it, fails: the
// others commit with their index rows.
func TestQueuedRowsFailingFailOnlyTheirWrite(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.writer.Exec(`CREATE TEMP TRIGGER refuse_13 BEFORE INSERT ON idx_number
		WHEN NEW.num = 13 BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	number := func(f float64) storage.IndexEntry {
		return storage.IndexEntry{Param: "probability", Type: conformance.ParamNumber, Number: f}
	}
	w := func(id string, entries ...storage.IndexEntry) storage.Write {
		return storage.Write{Index: entries, Resource: fhir.Resource{
			Type: "RiskAssessment", ID: id, Version: 1, LastUpdated: time.Unix(1, 0), Method: "PUT", JSON: []byte(`{}`)}}
	}
	batch := []*writeRequest{
		{ws: []storage.Write{w("a", number(0.5)), w("bad", number(13)), w("b", number(0.5))}, errs: make([]error, 3)},
		{ws: []storage.Write{w("c", number(0.5)), w("bad-atomic", number(13))}, atomic: true},
		{ws: []storage.Write{w("d", number(0.5))}, atomic: true},
	}
	for _, req := range batch {
		req.ctx = ctx
	}
	s.commit(batch)

	if errs := batch[0].errs; errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("plain writes: %v, want only the second to fail", errs)
	}
	var ae *storage.AtomicError
	if err := batch[1].err; !errors.As(err, &ae) || ae.Index != 1 {
		t.Errorf("atomic request with a failing row: %v, want an AtomicError for write 1", err)
	}
	if err := batch[2].err; err != nil {
		t.Errorf("atomic request: %v", err)
	}
	for id, want := range map[string]bool{"a": true, "b": true, "d": true, "bad": false, "c": false, "bad-atomic": false} {
		_, err := s.Read(ctx, "RiskAssessment", id)
		if got := err == nil; got != want {
			t.Errorf("RiskAssessment/%s written: %v (%v), want %v", id, got, err, want)
		}
	}
	if got := searchIDs(t, s, "RiskAssessment?probability=0.5"); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("search: %v, want [a b d]", got)
	}
}

// TestBatchOfCreates checks the creates of a WriteBatch, whose current
// rows the writer inserts together: a create of an existing resource, or
// of one an earlier write of the batch created, is a conflict alone.
func TestBatchOfCreates(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(ctx, patientCreate("old")); err != nil {
		t.Fatal(err)
	}
	errs := s.WriteBatch(ctx, []storage.Write{patientCreate("a"), patientCreate("b"), patientCreate("a"), patientCreate("old"), patientCreate("c")})
	for i, conflict := range []bool{false, false, true, true, false} {
		if got := errors.Is(errs[i], storage.ErrVersionConflict); got != conflict || (!conflict && errs[i] != nil) {
			t.Errorf("write %d: %v, want a conflict: %v", i, errs[i], conflict)
		}
	}
	for _, id := range []string{"a", "b", "c", "old"} {
		if r, err := s.Read(ctx, "Patient", id); err != nil || r.Version != 1 {
			t.Errorf("Read %s: %v, %v", id, r, err)
		}
	}
}

// patientCreate is the write creating an empty Patient/id.
func patientCreate(id string) storage.Write {
	return storage.Write{Resource: fhir.Resource{
		Type: "Patient", ID: id, Version: 1, LastUpdated: time.Unix(1, 0), Method: "PUT", JSON: []byte(`{}`)}}
}
