package profile

import (
	"encoding/json"
	"math/big"
)

// equal reports whether the decoded JSON values a and b are the same FHIR
// value (fixed[x]): numbers compare by value, so 1.0 equals 1.
func equal(a, b any) bool {
	switch b := b.(type) {
	case map[string]any:
		am, ok := a.(map[string]any)
		if !ok || len(am) != len(b) {
			return false
		}
		for k, bv := range b {
			if av, ok := am[k]; !ok || !equal(av, bv) {
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
			if !equal(aa[i], b[i]) {
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

// contains reports whether the decoded JSON value v contains pattern
// (pattern[x]): every member of a pattern object is in v and contains the
// pattern's value, every item of a pattern array is contained by some
// item of v. A repeating v contains a pattern object when one of its items
// does.
func contains(v, pattern any) bool {
	switch p := pattern.(type) {
	case map[string]any:
		if arr, ok := v.([]any); ok {
			for _, x := range arr {
				if contains(x, p) {
					return true
				}
			}
			return false
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, pv := range p {
			if !contains(m[k], pv) {
				return false
			}
		}
		return true
	case []any:
		for _, pv := range p {
			if !contains(v, pv) {
				return false
			}
		}
		return true
	}
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if equal(x, pattern) {
				return true
			}
		}
		return false
	}
	return equal(v, pattern)
}

func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := new(big.Float).SetString(string(a))
	y, ok2 := new(big.Float).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}
