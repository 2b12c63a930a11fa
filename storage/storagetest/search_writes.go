package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/medbridge/medbridge/storage"
)

// testSearchSeesWrites checks that searches see the current version only:
// an update is found by its new values and not its old ones, a deletion
// by nothing (negations and :missing included), a resource created again
// after its deletion by its new values; chains and _has do not pass
// through deleted resources.
func testSearchSeesWrites(t *testing.T, s suite) {
	f := s.fresh(t)
	f.save(t, `{"resourceType":"Patient","id":"p1","gender":"male","name":[{"family":"Alpha"}]}`)
	f.save(t, `{"resourceType":"Patient","id":"p2","gender":"female","name":[{"family":"Other"}]}`)
	f.save(t, `{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p1"}}`)
	f.save(t, `{"resourceType":"Observation","id":"o2","status":"final","subject":{"reference":"Patient/p2"}}`)

	check := func(step string, cases ...searchCase) {
		t.Helper()
		for _, c := range cases {
			t.Run(step+"/"+c.query, func(t *testing.T) { f.checkSearch(t, parseQuery(t, c.query), c.want) })
		}
	}
	check("created",
		searchCase{"Patient?name=alpha", []string{"p1"}},
		searchCase{"Patient?gender=male", []string{"p1"}},
		searchCase{"Observation?subject.name=alpha", []string{"o1"}},
		searchCase{"Patient?_has:Observation:subject:status=final", []string{"p1", "p2"}},
	)

	f.save(t, `{"resourceType":"Patient","id":"p1","gender":"female","name":[{"family":"Beta"}]}`)
	f.save(t, `{"resourceType":"Observation","id":"o2","status":"cancelled","subject":{"reference":"Patient/p2"}}`)
	check("updated",
		searchCase{"Patient?name=alpha", nil},
		searchCase{"Patient?name=beta", []string{"p1"}},
		searchCase{"Patient?gender=male", nil},
		searchCase{"Patient?gender:not=male", []string{"p1", "p2"}},
		searchCase{"Patient?gender=female", []string{"p1", "p2"}},
		searchCase{"Observation?subject.name=alpha", nil},
		searchCase{"Observation?subject.name=beta", []string{"o1"}},
		searchCase{"Patient?_has:Observation:subject:status=final", []string{"p1"}},
		searchCase{"Observation?status=final", []string{"o1"}},
	)

	f.remove(t, "Patient", "p1")
	f.remove(t, "Observation", "o2")
	check("deleted",
		searchCase{"Patient?name=beta", nil},
		searchCase{"Patient?gender:not=male", []string{"p2"}},
		searchCase{"Patient?gender:missing=true", nil},
		searchCase{"Patient?name:missing=false", []string{"p2"}},
		searchCase{"Patient?", []string{"p2"}},
		searchCase{"Observation?subject.name=beta", nil},
		searchCase{"Observation?subject=p1", []string{"o1"}},
		searchCase{"Patient?_has:Observation:subject:status=cancelled", nil},
		searchCase{"?_id=p1,o1,o2", []string{"o1"}},
	)

	f.save(t, `{"resourceType":"Patient","id":"p1","name":[{"family":"Gamma"}]}`)
	check("created again",
		searchCase{"Patient?name=gamma", []string{"p1"}},
		searchCase{"Patient?name=beta", nil},
		searchCase{"Patient?gender:missing=true", []string{"p1"}},
		searchCase{"Observation?subject.name=gamma", []string{"o1"}},
	)

	// A version written without index entries has none: the store keeps
	// what Write carries and nothing of the previous version.
	cur, _ := f.m.current("Patient", "p2")
	r := version("Patient", "p2", cur.Version+1, at(len(f.m.versions)))
	f.write(t, storage.Write{Resource: r, Expected: cur.Version})
	check("updated without entries",
		searchCase{"Patient?name=other", nil},
		searchCase{"Patient?gender:missing=true", []string{"p1", "p2"}},
		searchCase{"Patient?", []string{"p1", "p2"}},
	)
}

// testReadCurrent checks ReadCurrent: current versions of the resources
// that exist and are not deleted, whatever the order, duplicates and
// unknown references among the refs, in one call however many refs.
func testReadCurrent(t *testing.T, s suite) {
	f := s.fresh(t)
	f.save(t, `{"resourceType":"Patient","id":"a","gender":"male"}`)
	f.save(t, `{"resourceType":"Patient","id":"a","gender":"female"}`)
	f.save(t, `{"resourceType":"Patient","id":"b"}`)
	f.save(t, `{"resourceType":"Observation","id":"a","status":"final"}`)
	f.save(t, `{"resourceType":"Observation","id":"gone","status":"final"}`)
	f.remove(t, "Observation", "gone")
	for i := range 20 {
		f.save(t, fmt.Sprintf(`{"resourceType":"Patient","id":"many-%d"}`, i))
	}

	current := func(keys ...string) []string { return slices.Sorted(slices.Values(keys)) }
	many := make([]storage.Ref, 0, 2600)
	var manyWant []string
	for i := range 2600 {
		id := fmt.Sprintf("many-%d", i%1300)
		many = append(many, storage.Ref{Type: "Patient", ID: id})
		if i%1300 < 20 && i < 1300 {
			manyWant = append(manyWant, "Patient/"+id)
		}
	}
	tests := []struct {
		name string
		refs []storage.Ref
		want []string
	}{
		{"none", nil, nil},
		{"one", []storage.Ref{{Type: "Patient", ID: "b"}}, current("Patient/b")},
		{"updated", []storage.Ref{{Type: "Patient", ID: "a"}}, current("Patient/a")},
		{"same id, two types", []storage.Ref{{Type: "Patient", ID: "a"}, {Type: "Observation", ID: "a"}}, current("Patient/a", "Observation/a")},
		{"deleted and unknown", []storage.Ref{{Type: "Observation", ID: "gone"}, {Type: "Patient", ID: "zz"}, {Type: "Encounter", ID: "a"}, {Type: "Patient", ID: "b"}}, current("Patient/b")},
		{"duplicates", []storage.Ref{{Type: "Patient", ID: "b"}, {Type: "Patient", ID: "b"}, {Type: "Patient", ID: "a"}, {Type: "Patient", ID: "b"}}, current("Patient/a", "Patient/b")},
		{"empty parts", []storage.Ref{{Type: "", ID: "a"}, {Type: "Patient", ID: ""}, {Type: "Patient", ID: "a"}}, current("Patient/a")},
		{"many, with duplicates and unknown ids", many, current(manyWant...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.s.ReadCurrent(context.Background(), tt.refs)
			if err != nil {
				t.Fatalf("ReadCurrent: %v", err)
			}
			keys := keysOf(got)
			slices.Sort(keys)
			if !slices.Equal(keys, tt.want) {
				t.Errorf("got %v, want %v", keys, tt.want)
			}
			for _, r := range got {
				want, _ := f.m.current(r.Type, r.ID)
				checkResource(t, "ReadCurrent", &r, want)
			}
		})
	}
}
