package mongo

import (
	"testing"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

// The lastn group key is the same for the same subject and set of
// codings, whatever their order and duplicates, and tells apart what the
// escaping must.
func TestLastNGroup(t *testing.T) {
	subject := func(typ, id, url string) storage.IndexEntry {
		return storage.IndexEntry{Param: "subject", Type: conformance.ParamReference, RefType: typ, RefID: id, URL: url}
	}
	coding := func(system, code string) storage.IndexEntry {
		return storage.IndexEntry{Param: "code", Type: conformance.ParamToken, System: system, Code: code}
	}
	text := storage.IndexEntry{Param: "code", Type: conformance.ParamToken, Text: "spo2"}
	tests := []struct {
		entries []storage.IndexEntry
		want    string
	}{
		{[]storage.IndexEntry{subject("Patient", "1", ""), coding("http://loinc.org", "2708-6"), coding("http://loinc.org", "59408-5")},
			`Patient/1|http://loinc.org|2708-6|http://loinc.org|59408-5`},
		{[]storage.IndexEntry{coding("http://loinc.org", "59408-5"), text, coding("http://loinc.org", "2708-6"),
			coding("http://loinc.org", "59408-5"), subject("Patient", "1", "")},
			`Patient/1|http://loinc.org|2708-6|http://loinc.org|59408-5`},
		{[]storage.IndexEntry{subject("", "", "http://other.org/Patient/1"), coding("", "x|y")}, `http://other.org/Patient/1||x\|y`},
		{[]storage.IndexEntry{coding("a|b", "c")}, `|a\|b|c`},
		{[]storage.IndexEntry{subject("Patient", "1", ""), text}, `Patient/1|`},
		{nil, `|`},
	}
	for _, tt := range tests {
		if got := lastNGroup(tt.entries); got != tt.want {
			t.Errorf("lastNGroup(%v) = %q, want %q", tt.entries, got, tt.want)
		}
	}
}

// qv holds three elements per distinct value of each quantity parameter.
func TestQuantityValues(t *testing.T) {
	q := func(param string, v float64) storage.IndexEntry {
		return storage.IndexEntry{Param: param, Type: conformance.ParamQuantity, System: "http://unitsofmeasure.org", Code: "mm[Hg]", Number: v}
	}
	got := quantityValues([]storage.IndexEntry{q("component-value-quantity", 120), q("component-value-quantity", 120),
		q("component-value-quantity", 80), q("value-quantity", 3), {Param: "date", Type: conformance.ParamDate},
		q("value-quantity", -1e245)}) // no finite square: left out

	want := []quantityDoc{}
	for _, e := range []struct {
		p string
		v float64
	}{{"component-value-quantity", 120}, {"component-value-quantity", 80}, {"value-quantity", 3}} {
		d := quantityDoc{Param: e.p, System: "http://unitsofmeasure.org", Code: "mm[Hg]"}
		v, n, sq := d, d, d
		v.Kind, v.Value = "v", e.v
		n.Kind, n.Value = "n", 1
		sq.Kind, sq.Value = "sq", e.v*e.v
		want = append(want, v, n, sq)
	}
	if len(got) != len(want) {
		t.Fatalf("quantityValues = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("element %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
