package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/storage"
)

func testCreate(t *testing.T, s suite) {
	f := s.fresh(t)
	ctx := context.Background()
	v1 := version("Patient", "a", 1, at(1))
	f.put(t, v1, 0)
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)

	again := version("Patient", "a", 1, at(2))
	again.JSON = []byte(`{"resourceType":"Patient","id":"a","active":true}`)
	err := f.s.Write(ctx, storage.Write{Resource: again})
	if !errors.Is(err, storage.ErrVersionConflict) {
		t.Fatalf("second create: %v, want ErrVersionConflict", err)
	}
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "a"})
}

func testUpdate(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "a", 2, at(2)), 1)
	f.put(t, version("Patient", "a", 3, at(3)), 2)
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "a"})
}

// testRefusedWrites checks that a write whose Expected is not the current
// version, or whose Version does not follow Expected, returns
// ErrVersionConflict and leaves the store as it was.
func testRefusedWrites(t *testing.T, s suite) {
	f := s.fresh(t)
	// Each case has its own resource, in the state the comment gives.
	f.put(t, version("Patient", "one", 1, at(1)), 0) // version 1
	f.put(t, version("Patient", "two", 1, at(1)), 0) // version 2
	f.put(t, version("Patient", "two", 2, at(2)), 1)
	f.put(t, version("Patient", "gone", 1, at(1)), 0) // deleted at version 2
	f.put(t, deletion("Patient", "gone", 2, at(2)), 1)

	tests := []struct {
		name     string
		write    fhir.Resource
		expected int64
	}{
		{"create of an existing resource", version("Patient", "one", 1, at(5)), 0},
		{"create of a deleted resource", version("Patient", "gone", 1, at(5)), 0},
		{"create at version 2", version("Patient", "new", 2, at(5)), 0},
		{"update of a missing resource", version("Patient", "missing", 2, at(5)), 1},
		{"stale expected", version("Patient", "two", 2, at(5)), 1},
		{"expected ahead of current", version("Patient", "one", 3, at(5)), 2},
		{"version skips one", version("Patient", "one", 3, at(5)), 1},
		{"version repeats expected", version("Patient", "one", 1, at(5)), 1},
		{"version goes back", version("Patient", "two", 1, at(5)), 2},
		{"delete with stale expected", deletion("Patient", "two", 2, at(5)), 1},
		{"re-create with stale expected", version("Patient", "gone", 2, at(5)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.s.Write(context.Background(), storage.Write{Resource: tt.write, Expected: tt.expected})
			if !errors.Is(err, storage.ErrVersionConflict) {
				t.Errorf("Write version %d at expected %d: %v, want ErrVersionConflict",
					tt.write.Version, tt.expected, err)
			}
			f.checkCurrent(t, tt.write.Type, tt.write.ID)
			f.checkHistory(t, storage.HistoryQuery{Type: tt.write.Type, ID: tt.write.ID})
			f.checkVersion(t, tt.write.Type, tt.write.ID, tt.write.Version)
		})
	}
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{})
}

func testDelete(t *testing.T, s suite) {
	f := s.fresh(t)
	ctx := context.Background()
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "a", 2, at(2)), 1)
	f.put(t, deletion("Patient", "a", 3, at(3)), 2)

	got, err := f.s.Read(ctx, "Patient", "a")
	if err != nil {
		t.Fatalf("Read of a deleted resource: %v", err)
	}
	if !got.Deleted || got.Version != 3 || len(got.JSON) != 0 {
		t.Errorf("Read of a deleted resource = %s, want the deletion version 3", describe(*got))
	}
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)

	// Re-creating continues the version sequence after the deletion.
	f.put(t, version("Patient", "a", 4, at(4)), 3)
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient", ID: "a"})

	// Deleting twice in a row is two versions, as the contract leaves it to
	// the caller whether a second delete writes anything.
	f.put(t, deletion("Patient", "a", 5, at(5)), 4)
	f.put(t, deletion("Patient", "a", 6, at(6)), 5)
	f.checkCurrent(t, "Patient", "a")
	f.checkAllVersions(t)
}

func testNotFound(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "a", 2, at(2)), 1)

	tests := []struct {
		name    string
		typ, id string
		vread   bool
		version int64
	}{
		{"unknown id", "Patient", "b", false, 0},
		{"id of another type", "Observation", "a", false, 0},
		{"id with a different case", "Patient", "A", false, 0},
		{"version of an unknown id", "Patient", "b", true, 1},
		{"version of another type", "Observation", "a", true, 1},
		{"version 0", "Patient", "a", true, 0},
		{"version past the current one", "Patient", "a", true, 3},
		{"negative version", "Patient", "a", true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *fhir.Resource
			var err error
			if tt.vread {
				got, err = f.s.ReadVersion(context.Background(), tt.typ, tt.id, tt.version)
			} else {
				got, err = f.s.Read(context.Background(), tt.typ, tt.id)
			}
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, %v; want ErrNotFound", got, err)
			}
		})
	}
}

func testTypesAreIndependent(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "x", 1, at(1)), 0)
	f.put(t, version("Observation", "x", 1, at(2)), 0)
	f.put(t, version("Patient", "x", 2, at(3)), 1)
	f.put(t, deletion("Observation", "x", 2, at(4)), 1)
	f.put(t, version("Patient", "x", 3, at(5)), 2)

	f.checkCurrent(t, "Patient", "x")
	f.checkCurrent(t, "Observation", "x")
	f.checkAllVersions(t)
	for _, q := range []storage.HistoryQuery{
		{Type: "Patient", ID: "x"},
		{Type: "Observation", ID: "x"},
		{Type: "Patient"},
		{Type: "Observation"},
	} {
		f.checkHistory(t, q)
	}
}
