package fhir

import (
	"encoding/json"
	"math/big"
)

// JSONEqual reports whether a and b, JSON values decoded with UseNumber,
// are the same FHIR value: numbers compare by value (1.0 equals 1, exactly,
// not through float64), objects regardless of member order, arrays item by
// item.
func JSONEqual(a, b any) bool {
	switch b := b.(type) {
	case map[string]any:
		am, ok := a.(map[string]any)
		if !ok || len(am) != len(b) {
			return false
		}
		for k, bv := range b {
			if av, ok := am[k]; !ok || !JSONEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		aa, ok := a.([]any)
		if !ok || len(aa) != len(b) {
			return false
		}
		for i := range b {
			if !JSONEqual(aa[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		an, ok := a.(json.Number)
		return ok && sameNumber(an, b)
	}
	return a == b
}

func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := new(big.Float).SetString(string(a))
	y, ok2 := new(big.Float).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}
