package sqlite

import (
	"math"
	"time"

	"github.com/medbridge/medbridge/search"
)

// dateCond compares an entry's range [lo, hi) with the search value's
// range [qs, qe), as R4 defines the prefixes (the same reading as the
// Mongo store's matchDate):
//
//	eq  [qs, qe) contains the range     lo >= qs AND hi <= qe
//	ne  it does not                     lo < qs OR hi > qe
//	gt  the range reaches past qe       hi > qe
//	lt  it begins before qs             lo < qs
//	ge  gt or eq                        lo >= qs OR hi > qe
//	le  lt or eq                        lo < qs OR hi <= qe
//	sa  it begins at or after qe        lo >= qe
//	eb  it ends by qs                   hi <= qs
//	ap  it overlaps [qs, qe) widened by a tenth of the time to now
//
// eq also requires lo < qe, which only a range ending before it begins
// could fail, so that the lookup is bounded.
func dateCond(loCol, hiCol string, v search.Value, now time.Time) (rowCond, []rowCond, int) {
	qs, qe := v.Date.Start.UnixMicro(), v.Date.End.UnixMicro()
	cmp := func(col, op string, bound int64) rowCond {
		return func(c func(string) string) expr { return cat(c(col), " ", op, " ", arg(bound)) }
	}
	both := func(a, b rowCond) rowCond {
		return func(c func(string) string) expr { return and(a(c), b(c)) }
	}
	either := func(a, b rowCond) (rowCond, []rowCond) {
		return func(c func(string) string) expr { return or(a(c), b(c)) }, []rowCond{a, b}
	}
	switch v.Prefix {
	case search.Ne:
		cond, branches := either(cmp(loCol, "<", qs), cmp(hiCol, ">", qe))
		return cond, branches, rankScan
	case search.Gt:
		return cmp(hiCol, ">", qe), nil, rankOpenRange
	case search.Lt:
		return cmp(loCol, "<", qs), nil, rankOpenRange
	case search.Ge:
		cond, branches := either(cmp(loCol, ">=", qs), cmp(hiCol, ">", qe))
		return cond, branches, rankOpenRange
	case search.Le:
		cond, branches := either(cmp(loCol, "<", qs), cmp(hiCol, "<=", qe))
		return cond, branches, rankOpenRange
	case search.Sa:
		return cmp(loCol, ">=", qe), nil, rankOpenRange
	case search.Eb:
		return cmp(hiCol, "<=", qs), nil, rankOpenRange
	case search.Ap:
		n := now.UnixMicro()
		lo, hi := qs-abs(n-qs)/10, qe+abs(n-qe)/10
		return both(cmp(loCol, "<", hi), cmp(hiCol, ">", lo)), nil, rankOpenRange
	}
	return both(both(cmp(loCol, ">=", qs), cmp(loCol, "<", qe)), cmp(hiCol, "<=", qe)), nil, rankRange
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// numberCond compares the value in col with a search number n of the
// precision range [low, high): eq and ne against the range, gt, lt, ge
// and le (sa and eb as gt and lt) against n itself, ap within a tenth of n.
func numberCond(col string, p search.Prefix, n, low, high float64) (rowCond, []rowCond, int) {
	cmp := func(op string, bound float64) rowCond {
		return func(c func(string) string) expr { return cat(c(col), " ", op, " ", arg(bound)) }
	}
	between := func(a, b rowCond) rowCond {
		return func(c func(string) string) expr { return and(a(c), b(c)) }
	}
	switch p {
	case search.Ne:
		a, b := cmp("<", low), cmp(">=", high)
		return func(c func(string) string) expr { return or(a(c), b(c)) }, []rowCond{a, b}, rankScan
	case search.Gt, search.Sa:
		return cmp(">", n), nil, rankOpenRange
	case search.Lt, search.Eb:
		return cmp("<", n), nil, rankOpenRange
	case search.Ge:
		return cmp(">=", n), nil, rankOpenRange
	case search.Le:
		return cmp("<=", n), nil, rankOpenRange
	case search.Ap:
		d := math.Abs(n) / 10
		return between(cmp(">=", n-d), cmp("<=", n+d)), nil, rankRange
	}
	return between(cmp(">=", low), cmp("<", high)), nil, rankRange
}
