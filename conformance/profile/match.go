package profile

import "github.com/medbridge/medbridge/fhir"

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
			if fhir.JSONEqual(x, pattern) {
				return true
			}
		}
		return false
	}
	return fhir.JSONEqual(v, pattern)
}
