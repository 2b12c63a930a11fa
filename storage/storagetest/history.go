package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/medbridge/medbridge/storage"
)

func testHistory(t *testing.T, s suite) {
	f := s.fresh(t)
	// Seconds after epoch; several versions share an instant so that the
	// Type, ID and Version tie-breaks decide their order.
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	f.put(t, version("Patient", "b", 1, at(2)), 0)
	f.put(t, version("Observation", "a", 1, at(3)), 0)
	f.put(t, version("Patient", "a", 2, at(4)), 1)
	f.put(t, version("Patient", "c", 1, at(5)), 0)
	f.put(t, version("Observation", "c", 1, at(5)), 0)
	f.put(t, version("Observation", "a", 2, at(5)), 1)
	f.put(t, deletion("Patient", "a", 3, at(6)), 2)
	f.put(t, version("Patient", "d", 1, at(7)), 0)
	f.put(t, version("Patient", "d", 2, at(7)), 1)
	f.put(t, version("Patient", "a", 4, at(8)), 3)
	f.put(t, version("Encounter", "e", 1, at(9)), 0)

	ms := time.Millisecond
	tests := []struct {
		name string
		q    storage.HistoryQuery
		want int // sanity check on the model, so that no case is vacuous
	}{
		{"system", storage.HistoryQuery{}, 12},
		{"type", storage.HistoryQuery{Type: "Patient"}, 8},
		{"type without versions", storage.HistoryQuery{Type: "Medication"}, 0},
		{"instance", storage.HistoryQuery{Type: "Patient", ID: "a"}, 4},
		{"instance with versions at one instant", storage.HistoryQuery{Type: "Patient", ID: "d"}, 2},
		{"unknown instance", storage.HistoryQuery{Type: "Patient", ID: "zz"}, 0},
		{"since is inclusive", storage.HistoryQuery{Since: at(5)}, 8},
		{"since between versions", storage.HistoryQuery{Since: at(5).Add(ms)}, 5},
		{"since microsecond", storage.HistoryQuery{Since: at(8).Add(time.Microsecond)}, 1},
		{"since after everything", storage.HistoryQuery{Since: at(100)}, 0},
		{"type since", storage.HistoryQuery{Type: "Observation", Since: at(4)}, 2},
		{"instance since", storage.HistoryQuery{Type: "Patient", ID: "a", Since: at(4)}, 3},
		// Current at some instant in [4s, 5s): Patient/a v1 was superseded
		// exactly at 4s so it is out; Observation/a v1 until 5s is in.
		{"at", storage.HistoryQuery{AtStart: at(4), AtEnd: at(5)}, 3},
		{"at, end is exclusive", storage.HistoryQuery{AtStart: at(0), AtEnd: at(1)}, 0},
		{"at, start is inclusive", storage.HistoryQuery{AtStart: at(1), AtEnd: at(1).Add(ms)}, 1},
		{"at, superseded just after start", storage.HistoryQuery{AtStart: at(4).Add(-ms), AtEnd: at(4)}, 3},
		{"at one instant of ties", storage.HistoryQuery{AtStart: at(7), AtEnd: at(7).Add(ms)}, 6},
		{"at after everything", storage.HistoryQuery{AtStart: at(50), AtEnd: at(60)}, 7},
		{"type at", storage.HistoryQuery{Type: "Observation", AtStart: at(5), AtEnd: at(6)}, 2},
		{"instance at deletion", storage.HistoryQuery{Type: "Patient", ID: "a", AtStart: at(6), AtEnd: at(7)}, 1},
		{"at and since", storage.HistoryQuery{Since: at(5), AtStart: at(2), AtEnd: at(6)}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := len(f.m.history(tt.q)); n != tt.want {
				t.Fatalf("the suite's model selects %d versions, the case says %d", n, tt.want)
			}
			f.checkHistory(t, tt.q)
		})
	}
}

// testHistoryPagingWhileWriting checks that cursors visit every version that
// existed when paging began exactly once, while newer versions keep coming.
func testHistoryPagingWhileWriting(t *testing.T, s suite) {
	for _, tt := range []struct {
		name string
		q    storage.HistoryQuery
	}{
		{"system", storage.HistoryQuery{Count: 7}},
		{"type", storage.HistoryQuery{Type: "Patient", Count: 4}},
		{"instance", storage.HistoryQuery{Type: "Patient", ID: "p3", Count: 2}},
		{"since", storage.HistoryQuery{Since: at(10), Count: 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			f := s.fresh(t)
			// 40 resources over 20 instants, pairs sharing each, then
			// updates so that the instances have histories.
			for i := range 40 {
				typ := []string{"Patient", "Observation"}[i%2]
				f.put(t, version(typ, fmt.Sprintf("p%d", i/2), 1, at(i/2)), 0)
			}
			for i := range 10 {
				f.put(t, version("Patient", "p3", int64(i+2), at(20+i)), int64(i+1))
			}
			want := f.m.history(q)
			if len(want) < 2*q.Count {
				t.Fatalf("the suite's model selects only %d versions", len(want))
			}

			// Between pages, update an instance and create a new one, both
			// newer than everything paged so far.
			clock := 100
			between := func() {
				clock++
				cur, _ := f.m.current("Patient", "p3")
				f.put(t, version("Patient", "p3", cur.Version+1, at(clock)), cur.Version)
				f.put(t, version("Patient", fmt.Sprintf("new%d", clock), 1, at(clock)), 0)
			}
			got := collect(t, f.s, q, between)
			checkVersions(t, "History while writing", got, want)
		})
	}
}

// testHistoryRefusesBadQueries checks that queries the contract rules out
// return an error rather than a guess.
func testHistoryRefusesBadQueries(t *testing.T, s suite) {
	f := s.fresh(t)
	f.put(t, version("Patient", "a", 1, at(1)), 0)
	tests := []struct {
		name string
		q    storage.HistoryQuery
	}{
		{"count 0", storage.HistoryQuery{}},
		{"negative count", storage.HistoryQuery{Count: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.s.History(context.Background(), tt.q)
			if err == nil {
				t.Errorf("History %+v = %d versions, want an error", tt.q, len(page.Versions))
			}
		})
	}
}
