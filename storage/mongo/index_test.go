package mongo

import (
	"context"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The index fields are a format that MongoDB's indexes and operators'
// queries depend on.
func TestIndexShapes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	write(t, s, testSpec(t), "Observation", "o", 1, epoch, `{"resourceType":"Observation","id":"o","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart Rate"}]},
		"subject":{"reference":"Patient/p|1"},"effectiveDateTime":"2026-03-04",
		"valueQuantity":{"value":72.0,"system":"http://unitsofmeasure.org","code":"/min"}}`)
	var d currentDoc
	if err := s.resources.FindOne(ctx, bson.D{{Key: "_id", Value: "Observation/o"}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"code|*",
		"code|c|8867-4",
		"code|s|http://loinc.org|8867-4",
		"code|y|http://loinc.org",
		"code|x|heart rate",
		"status|s|http://hl7.org/fhir/observation-status|final",
		"subject|u|Patient/p|1", // not a valid id: kept as written
		"value-quantity|q|http://unitsofmeasure.org|/min",
		"value-quantity|qc|/min",
	} {
		if !slices.Contains(d.Keys, k) {
			t.Errorf("k lacks %q; has %q", k, d.Keys)
		}
	}
	day := epoch.AddDate(0, 0, 3).Truncate(24 * 60 * 60 * 1e9)
	if r := d.Ranges["date"]; r == nil || !slices.Equal(r.Starts, []int64{day.UnixMicro()}) ||
		!slices.Equal(r.Ends, []int64{day.AddDate(0, 0, 1).UnixMicro()}) {
		t.Errorf("d.date = %+v", r)
	}
	if r := d.Ranges["value-quantity"]; r == nil || !slices.Equal(r.Values, []float64{72}) {
		t.Errorf("d.value-quantity = %+v", r)
	}
	var params []string
	for _, e := range d.Entries {
		params = append(params, e.Param)
	}
	slices.Sort(params)
	if want := []string{"code-value-quantity", "combo-code-value-quantity", "combo-value-quantity", "date", "value-quantity"}; !slices.Equal(params, want) {
		t.Errorf("ix has entries of %v, want %v", params, want)
	}
	if o, ok := d.Sort["code"]; !ok || o.Desc != descKey([]byte("8867-4")) || o.Asc != ascKey([]byte("8867-4")) {
		t.Errorf("o.code = %+v", o)
	}
}

func TestSortKeysOrder(t *testing.T) {
	values := [][]byte{[]byte("a"), []byte("ab"), []byte("b"), sortFloat(-2), sortFloat(-1), sortFloat(0), sortFloat(3)}
	less := func(a, b []byte) bool { return string(a) < string(b) }
	for _, a := range values {
		for _, b := range values {
			if len(a) == 8 != (len(b) == 8) {
				continue // a number and a string never share a parameter
			}
			if less(a, b) && !(ascKey(a) > ascKey(b) && descKey(a) < descKey(b)) {
				t.Errorf("%x < %x, but asc keys %s, %s and desc keys %s, %s", a, b, ascKey(a), ascKey(b), descKey(a), descKey(b))
			}
		}
	}
	if !less(sortFloat(-2), sortFloat(-1)) || !less(sortFloat(-1), sortFloat(0)) || !less(sortFloat(0), sortFloat(3)) {
		t.Errorf("sortFloat does not preserve order")
	}
}
