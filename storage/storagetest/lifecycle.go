package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/medbridge/medbridge/storage"
)

// testDurability checks that what a closed store acknowledged is there when
// its directory is opened again, and that writing continues from it.
func testDurability(t *testing.T, s suite) {
	dir := t.TempDir()
	f := &fixture{s: s.open(t, dir)}
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "a", 2, at(2)), 1)
	f.put(t, version("Observation", "a", 1, at(3)), 0)
	f.put(t, deletion("Observation", "a", 2, at(4)), 1)
	f.put(t, version("Patient", "b", 1, at(5)), 0)
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	f.s = s.open(t, dir)
	t.Cleanup(func() {
		if err := f.s.Close(); err != nil {
			t.Errorf("Close after reopening: %v", err)
		}
	})
	f.checkCurrent(t, "Patient", "a")
	f.checkCurrent(t, "Observation", "a")
	f.checkCurrent(t, "Patient", "b")
	f.checkAllVersions(t)
	f.checkHistory(t, storage.HistoryQuery{})
	f.checkHistory(t, storage.HistoryQuery{AtStart: at(2), AtEnd: at(3)})

	f.put(t, version("Patient", "a", 3, at(6)), 2)
	err := f.s.Write(context.Background(), storage.Write{Resource: version("Patient", "b", 1, at(7))})
	if !errors.Is(err, storage.ErrVersionConflict) {
		t.Errorf("create of a resource written before reopening: %v, want ErrVersionConflict", err)
	}
	f.checkCurrent(t, "Patient", "a")
	f.checkHistory(t, storage.HistoryQuery{Type: "Patient"})
}

// testCancelledContext checks that every method given a cancelled context
// returns an error, and that a cancelled Write writes nothing.
func testCancelledContext(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		call func() error
	}{
		{"Write create", func() error {
			return f.s.Write(ctx, storage.Write{Resource: version("Patient", "b", 1, at(2))})
		}},
		{"Write update", func() error {
			return f.s.Write(ctx, storage.Write{Resource: version("Patient", "a", 2, at(2)), Expected: 1})
		}},
		{"Read", func() error { _, err := f.s.Read(ctx, "Patient", "a"); return err }},
		{"ReadVersion", func() error { _, err := f.s.ReadVersion(ctx, "Patient", "a", 1); return err }},
		{"History", func() error { _, err := f.s.History(ctx, storage.HistoryQuery{Count: 10}); return err }},
		{"Ping", func() error { return f.s.Ping(ctx) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Errorf("%s with a cancelled context succeeded", tt.name)
			}
		})
	}
	f.checkCurrent(t, "Patient", "a")
	f.checkCurrent(t, "Patient", "b")
	f.checkHistory(t, storage.HistoryQuery{})
}

func testPing(t *testing.T, s suite) {
	f := s.fresh(t)
	if err := f.s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
