package mongo

import (
	"math"
	"strings"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// matchEntry reports whether the index entry e matches the search value v
// under the modifier mod. It is the reference semantics of this package:
// the MongoDB conditions of filter.go select exactly these entries (or a
// superset, which Search then checks with matchEntry). now is the instant
// "ap" dates are approximate to.
func matchEntry(e *storage.IndexEntry, mod string, v *search.Value, now time.Time) bool {
	switch e.Type {
	case conformance.ParamToken:
		return matchToken(e, mod, v)
	case conformance.ParamString:
		q := storage.NormalizeString(v.String)
		switch mod {
		case "exact":
			return e.Exact == v.String
		case "contains":
			return strings.Contains(e.Norm, q)
		}
		return strings.HasPrefix(e.Norm, q)
	case conformance.ParamURI:
		return matchURI(e.Exact, mod, v.String)
	case conformance.ParamReference:
		return matchReference(e, mod, v)
	case conformance.ParamDate:
		return matchDate(e.Start, e.End, v.Prefix, v.Date, now)
	case conformance.ParamNumber:
		return matchNumber(e.Number, v)
	case conformance.ParamQuantity:
		if cv, canonical, ok := canonicalValue(v); ok {
			return e.CanonicalCode == canonical && matchNumber(e.CanonicalNumber, &cv)
		}
		return matchUnit(e, v) && matchNumber(e.Number, v)
	case conformance.ParamComposite:
		if len(e.Components) != len(v.Components) {
			return false
		}
		for i := range e.Components {
			if !matchEntry(&e.Components[i], "", &v.Components[i], now) {
				return false
			}
		}
		return true
	}
	return false
}

func matchToken(e *storage.IndexEntry, mod string, v *search.Value) bool {
	switch mod {
	case "text":
		return e.Text != "" && strings.HasPrefix(e.Text, storage.NormalizeString(v.String))
	case "of-type":
		return e.TypeCode != "" && e.TypeSystem == *v.System && e.TypeCode == v.Code && e.Code == v.Value
	}
	return matchCoding(e.System, e.Code, v)
}

// matchCoding matches "code", "|code", "system|" and "system|code".
func matchCoding(system, code string, v *search.Value) bool {
	switch {
	case v.System == nil:
		return code != "" && code == v.Code
	case v.Code == "":
		return system != "" && system == *v.System
	}
	return code != "" && system == *v.System && code == v.Code
}

// matchURI: equality, :below (the value is a path prefix of the
// resource's URI) and :above (the resource's URI is a path prefix of the
// value).
func matchURI(uri, mod, value string) bool {
	switch mod {
	case "below":
		return isPathPrefix(value, uri)
	case "above":
		return isPathPrefix(uri, value)
	}
	return uri == value
}

// isPathPrefix reports whether p is s or a prefix of s that ends at a "/".
func isPathPrefix(p, s string) bool {
	if p == "" || !strings.HasPrefix(s, p) {
		return false
	}
	return len(s) == len(p) || strings.HasSuffix(p, "/") || s[len(p)] == '/'
}

func matchReference(e *storage.IndexEntry, mod string, v *search.Value) bool {
	switch {
	case mod == "identifier":
		return matchCoding(e.System, e.Code, v)
	case v.URL != "":
		want := v.URL
		if v.Version != "" {
			want += "|" + v.Version
		}
		return e.URL == want
	case v.RefType != "":
		return e.RefType == v.RefType && e.RefID == v.RefID
	}
	return e.RefID != "" && e.RefID == v.RefID
}

// matchDate compares the resource's range [start, end) with the search
// value's range r, both in microseconds, as R4 defines the prefixes:
//
//	eq  r contains the resource's range
//	ne  it does not
//	gt  the resource's range reaches past r's end
//	lt  it begins before r's start
//	ge  gt, or eq: it begins at or after r's start, or reaches past r's end
//	le  lt, or eq: it begins before r's start, or ends by r's end
//	sa  it begins at or after r's end
//	eb  it ends by r's start
//	ap  it overlaps r widened on both sides by a tenth of the time
//	    between now and r
func matchDate(start, end int64, p search.Prefix, r search.DateRange, now time.Time) bool {
	qs, qe := r.Start.UnixMicro(), r.End.UnixMicro()
	switch p {
	case search.Ne:
		return start < qs || end > qe
	case search.Gt:
		return end > qe
	case search.Lt:
		return start < qs
	case search.Ge:
		return start >= qs || end > qe
	case search.Le:
		return start < qs || end <= qe
	case search.Sa:
		return start >= qe
	case search.Eb:
		return end <= qs
	case search.Ap:
		lo, hi := approxDates(r, now)
		return start < hi && end > lo
	}
	return start >= qs && end <= qe
}

// approxDates is the range "ap" matches: r widened by a tenth of its
// distance from now on either side.
func approxDates(r search.DateRange, now time.Time) (lo, hi int64) {
	qs, qe := r.Start.UnixMicro(), r.End.UnixMicro()
	n := now.UnixMicro()
	return qs - abs64(n-qs)/10, qe + abs64(n-qe)/10
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// matchNumber compares the resource's value n with the search value: eq
// and ne against the range the value's precision implies ("100" is
// [99.5, 100.5)), gt, lt, ge, le (and sa, eb as gt, lt) against the exact
// value, ap within 10% of it.
func matchNumber(n float64, v *search.Value) bool {
	switch v.Prefix {
	case search.Ne:
		return n < v.Low || n >= v.High
	case search.Gt, search.Sa:
		return n > v.Number
	case search.Lt, search.Eb:
		return n < v.Number
	case search.Ge:
		return n >= v.Number
	case search.Le:
		return n <= v.Number
	case search.Ap:
		lo, hi := approxNumbers(v)
		return n >= lo && n <= hi
	}
	return n >= v.Low && n < v.High
}

func approxNumbers(v *search.Value) (lo, hi float64) {
	d := math.Abs(v.Number) / 10
	return v.Number - d, v.Number + d
}

// matchUnit: a quantity in a UCUM unit that storage converts compares in
// the canonical unit (see matchEntry); other units: a quantity without a unit matches any; number|system|code
// the same system and code; number||code the code in any system.
func matchUnit(e *storage.IndexEntry, v *search.Value) bool {
	switch {
	case v.Code == "" && v.System == nil:
		return true
	case v.System == nil:
		return e.Code == v.Code
	}
	return e.System == *v.System && e.Code == v.Code
}
