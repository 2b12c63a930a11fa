package mongo

import (
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// canonicalValue converts a quantity search value in a UCUM unit that
// storage converts to the canonical unit: the value and its precision
// range. ok is false for other values, which compare in their own unit.
func canonicalValue(v *search.Value) (search.Value, string, bool) {
	if v.System == nil || *v.System != storage.UCUMSystem {
		return search.Value{}, "", false
	}
	n, canonical, ok := storage.CanonicalUCUM(v.Number, v.Code)
	if !ok {
		return search.Value{}, "", false
	}
	c := *v
	c.Number = n
	c.Low, _, _ = storage.CanonicalUCUM(v.Low, v.Code)
	c.High, _, _ = storage.CanonicalUCUM(v.High, v.Code)
	if c.Low > c.High {
		c.Low, c.High = c.High, c.Low
	}
	return c, canonical, true
}
