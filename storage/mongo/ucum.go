package mongo

import (
	"encoding/json"
	"sync"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

const ucumSystem = "http://unitsofmeasure.org"

// ucumUnit converts a value to the canonical unit of its dimension:
// canonical = value × factor + offset.
type ucumUnit struct {
	canonical      string
	factor, offset float64
}

var ucumUnits sync.Map // UCUM code → ucumUnit, or false when unknown

// ucumConversion returns the conversion storage applies to stored UCUM
// quantities (IndexEntry.CanonicalNumber/CanonicalCode), so that search
// values convert alike. storage keeps its table unexported; this reads it
// through Extract, once per unit: the canonical values of 0 and 1 in the
// unit give the offset and the factor.
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

// canonicalValue converts a quantity search value in a UCUM unit that
// storage converts to the canonical unit: the value and its precision
// range. ok is false for other values, which compare in their own unit.
func canonicalValue(v *search.Value) (search.Value, string, bool) {
	if v.System == nil || *v.System != ucumSystem {
		return search.Value{}, "", false
	}
	u, ok := ucumConversion(v.Code)
	if !ok {
		return search.Value{}, "", false
	}
	c := *v
	c.Number = v.Number*u.factor + u.offset
	c.Low, c.High = v.Low*u.factor+u.offset, v.High*u.factor+u.offset
	if c.Low > c.High {
		c.Low, c.High = c.High, c.Low
	}
	return c, u.canonical, true
}
