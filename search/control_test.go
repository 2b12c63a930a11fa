package search

import (
	"reflect"
	"slices"
	"testing"
)

func TestSort(t *testing.T) {
	tests := []struct {
		types []string
		query string
		want  []string // code, "-" for descending
	}{
		{observation, "_sort=date", []string{"date"}},
		{observation, "_sort=-date,status,-_lastUpdated", []string{"-date", "status", "-_lastUpdated"}},
		{observation, "_sort=code,", []string{"code"}},
		{[]string{"Observation", "Encounter"}, "_sort=-date", []string{"-date"}},
		{nil, "_sort=_lastUpdated", []string{"_lastUpdated"}},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query)
		var got []string
		for _, k := range q.Sort {
			s := k.Param.Code
			if k.Descending {
				s = "-" + s
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: sort %v, want %v", tt.query, got, tt.want)
		}
	}
	if q := mustParse(t, observation, "_sort=date"); q.Sort[0].Param != param(t, "Observation", "date") {
		t.Errorf("_sort=date: param %+v", q.Sort[0].Param)
	}
	runErrorCases(t, []errorCase{
		{observation, "_sort=foo", "_sort"},
		{observation, "_sort=name", "_sort"},
		{observation, "_sort=date&_sort=code", "_sort"},
		{[]string{"Observation", "Patient"}, "_sort=date", "_sort"}, // Patient has no date
		{nil, "_sort=name", "_sort"},
		{observation, "_sort=subject.name", "_sort"},
		{observation, "_sort=--date", "_sort"},
	})
}

func TestResultParameters(t *testing.T) {
	tests := []struct {
		types []string
		query string
		opts  Options
		want  Query
	}{
		{observation, "", Options{}, Query{Types: observation, Count: 20}},
		{observation, "_count=5", Options{}, Query{Types: observation, Count: 5}},
		{observation, "_count=0", Options{}, Query{Types: observation, Count: 0}},
		{observation, "_count=5000", Options{}, Query{Types: observation, Count: 1000}},
		{observation, "_count=50", Options{DefaultCount: 10, MaxCount: 30}, Query{Types: observation, Count: 30}},
		{observation, "", Options{DefaultCount: 10, MaxCount: 30}, Query{Types: observation, Count: 10}},
		{observation, "", Options{DefaultCount: 50, MaxCount: 30}, Query{Types: observation, Count: 30}},
		{observation, "_total=accurate", Options{}, Query{Types: observation, Count: 20, Total: "accurate"}},
		{observation, "_total=none", Options{}, Query{Types: observation, Count: 20, Total: "none"}},
		{observation, "_total=estimate", Options{}, Query{Types: observation, Count: 20, Total: "estimate"}},
		{observation, "_summary=true", Options{}, Query{Types: observation, Count: 20, Summary: "true"}},
		{observation, "_summary=text", Options{}, Query{Types: observation, Count: 20, Summary: "text"}},
		{observation, "_summary=data", Options{}, Query{Types: observation, Count: 20, Summary: "data"}},
		{observation, "_summary=false", Options{}, Query{Types: observation, Count: 20, Summary: "false"}},
		{observation, "_summary=count&_count=10", Options{}, Query{Types: observation, Count: 0, Summary: "count"}},
		{observation, "_elements=status,%20code,,valueQuantity", Options{}, Query{Types: observation, Count: 20, Elements: []string{"status", "code", "valueQuantity"}}},
		{observation, "_page_token=abc", Options{}, Query{Types: observation, Count: 20, After: "abc"}},
		{observation, "_page_before=xyz", Options{}, Query{Types: observation, Count: 20, Before: "xyz"}},
		{observation, "_format=json&_pretty=true", Options{Strict: true}, Query{Types: observation, Count: 20}},
		{nil, "", Options{}, Query{System: true, Count: 20}},
		{nil, "_type=Patient,Observation", Options{}, Query{System: true, Types: []string{"Patient", "Observation"}, Count: 20}},
		{nil, "_type=Patient,,Patient", Options{}, Query{System: true, Types: []string{"Patient"}, Count: 20}},
	}
	for _, tt := range tests {
		q := mustParse(t, tt.types, tt.query, tt.opts)
		if !reflect.DeepEqual(*q, tt.want) {
			t.Errorf("%s: %+v\nwant %+v", tt.query, *q, tt.want)
		}
	}
	runErrorCases(t, []errorCase{
		{observation, "_count=-1", "_count"},
		{observation, "_count=ten", "_count"},
		{observation, "_count=1.5", "_count"},
		{observation, "_count=1&_count=2", "_count"},
		{observation, "_total=all", "_total"},
		{observation, "_summary=yes", "_summary"},
		{observation, "_summary=true&_summary=false", "_summary"},
		{observation, "_elements=a&_elements=b", "_elements"},
		{observation, "_page_token=a&_page_before=b", "_page_before"},
		{observation, "_page_token=a&_page_token=b", "_page_token"},
		{nil, "_type=Foo", "_type"},
		{nil, "_type=patient", "_type"},
		{nil, "_type=Patient&_type=Observation", "_type"},
	})
}

// A system search takes the parameters that every type in _type has, or
// without _type those of every resource.
func TestSystemSearch(t *testing.T) {
	runValueCases(t, []valueCase{
		{nil, "_id=1", "_id@Resource", []Value{{Code: "1"}}},
		{nil, "_lastUpdated=2026", "_lastUpdated@Resource", []Value{{Prefix: Eq, Date: mustRange(t, "2026")}}},
		{[]string{"Observation", "Condition"}, "code=x", "code@Observation", []Value{{Code: "x"}}},
		{[]string{"Observation", "Condition"}, "patient=1", "patient@Observation", []Value{{RefID: "1"}}},
	})
	q := mustParse(t, nil, "_type=Observation,Condition&code=x")
	if !q.System || !slices.Equal(q.Types, []string{"Observation", "Condition"}) || len(q.Filters) != 1 {
		t.Errorf("system search with _type: %+v", q)
	}
	runUnknownCases(t, []unknownCase{
		{nil, "name=x"},
		{[]string{"Observation", "Patient"}, "code=x"},
	})
	// A caller that read _type itself passes its types.
	q = mustParse(t, []string{"Observation", "Condition"}, "_type=Condition,Observation&code=x", Options{Strict: true})
	if !q.System || !slices.Equal(q.Types, []string{"Observation", "Condition"}) || len(q.Filters) != 1 {
		t.Errorf("types and _type: %+v", q)
	}
	runErrorCases(t, []errorCase{
		{patient, "_type=Observation", "_type"},
		{[]string{"Observation", "Condition"}, "_type=Observation", "_type"},
		{patient, "_type=Foo", "_type"},
	})
	if _, err := ParseQuery(loadSpec(t), []string{"Foo"}, nil, Options{}); err == nil {
		t.Error("ParseQuery with an unknown type succeeded")
	}
}
