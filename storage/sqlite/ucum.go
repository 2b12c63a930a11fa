package sqlite

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/storage"
)

const ucumSystem = "http://unitsofmeasure.org"

// ucumUnit converts a value to the canonical unit of its dimension:
// canonical = value × factor + offset.
type ucumUnit struct {
	canonical      string
	factor, offset float64
}

// convert is v in the canonical unit, rounded to 12 significant digits as
// storage rounds the canonical values it computes, so that a search value
// and a stored value that are equal stay equal.
func (u ucumUnit) convert(v float64) float64 {
	c := v*u.factor + u.offset
	if u.factor != 1 || u.offset != 0 {
		c, _ = strconv.ParseFloat(strconv.FormatFloat(c, 'g', 12, 64), 64)
	}
	return c
}

var ucumUnits sync.Map // UCUM code → ucumUnit, or false when unknown

// ucumConversion returns the conversion storage applies to stored UCUM
// quantities (IndexEntry.CanonicalNumber and CanonicalCode). storage
// keeps its table unexported, so this reads it through Extract, once per
// unit: the canonical values of 0 and 1 in the unit give the offset and
// the factor. (An exported storage.CanonicalUCUM would replace this.)
func ucumConversion(code string) (ucumUnit, bool) {
	if u, ok := ucumUnits.Load(code); ok {
		unit, known := u.(ucumUnit)
		return unit, known
	}
	canonical := func(value string) (string, float64, bool) {
		c, _ := json.Marshal(code)
		js := `{"resourceType":"Observation","status":"final","code":{"text":"unit"},` +
			`"valueQuantity":{"value":` + value + `,"system":"` + ucumSystem + `","code":` + string(c) + `}}`
		spec, err := conformance.Load()
		if err != nil {
			return "", 0, false
		}
		entries, err := storage.Extract(spec, "Observation", []byte(js))
		if err != nil {
			return "", 0, false
		}
		for _, e := range entries {
			if e.Param == "value-quantity" && e.CanonicalCode != "" {
				return e.CanonicalCode, e.CanonicalNumber, true
			}
		}
		return "", 0, false
	}
	c0, offset, ok0 := canonical("0")
	c1, one, ok1 := canonical("1")
	if !ok0 || !ok1 || c0 != c1 || one == offset {
		ucumUnits.Store(code, false)
		return ucumUnit{}, false
	}
	u := ucumUnit{canonical: c0, factor: one - offset, offset: offset}
	ucumUnits.Store(code, u)
	return u, true
}
