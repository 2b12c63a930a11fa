package sqlite

import (
	"fmt"
	"strings"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// A match is a condition on the rows of one index table for the values
// of one filter (ORed). cond is the whole condition on the row alias x;
// branches, when set, are conditions the value-first index serves with a
// range or point lookup, whose union is cond. rank says how selective a
// lookup by the match is likely to be (see the rank constants).
type match struct {
	table    string
	cond     func(x string) expr
	branches []func(x string) expr
	rank     int
}

// Ranks order the filters of a search by how few rows an index lookup of
// theirs is likely to return; the best-ranked one drives the query (see
// compile.go). They are guesses by kind of condition, as SQLite has no
// statistics to choose by and medbridge does not run ANALYZE.
const (
	rankScan      = 5  // every entry of the parameter (:missing=false, :contains, system|)
	rankOpenRange = 30 // one-sided number, date or quantity ranges
	rankRange     = 40 // bounded ranges: eq on numbers and dates
	rankText      = 50 // :text, :below, quantity with unit
	rankPrefix    = 60 // string starts-with, composite
	rankIn        = 70 // ValueSet expansions, :above
	rankValue     = 80 // a code, a URI, an exact string
	rankCoding    = 85 // system|code, an identifier
	rankReference = 90 // a reference target
	rankID        = 100
)

func (m match) branchList() []func(x string) expr {
	if m.branches != nil {
		return m.branches
	}
	return []func(x string) expr{m.cond}
}

func constMatch(table string, rank int, cond func(x string) expr) match {
	return match{table: table, cond: cond, rank: rank}
}

// valueMatches compiles the values of a plain filter on param with mod
// (not, not-in: the values to negate). A value that can match nothing (a
// system no entry has) adds no match; no matches means no resource matches.
func (c *compiler) valueMatches(param *conformance.SearchParam, mod string, vs []search.Value) ([]match, error) {
	switch param.Type {
	case conformance.ParamToken:
		rank := 0
		if param.Code == "_id" {
			rank = rankID
		}
		return c.tokenMatches("idx_token", mod, vs, rank)
	case conformance.ParamReference:
		if mod == "identifier" {
			return c.tokenMatches("idx_token", "", vs, rankCoding)
		}
		return referenceMatches(vs), nil
	case conformance.ParamString:
		return stringMatches(mod, vs), nil
	case conformance.ParamURI:
		return uriMatches(mod, vs), nil
	case conformance.ParamDate:
		var ms []match
		for _, v := range vs {
			cond, branches, rank := dateCond("lo", "hi", v, c.now)
			ms = append(ms, rowMatch("idx_date", cond, branches, rank))
		}
		return ms, nil
	case conformance.ParamNumber:
		var ms []match
		for _, v := range vs {
			cond, branches, rank := numberCond("num", v.Prefix, v.Number, v.Low, v.High)
			ms = append(ms, rowMatch("idx_number", cond, branches, rank))
		}
		return ms, nil
	case conformance.ParamQuantity:
		var ms []match
		for _, v := range vs {
			cond, branches, rank, ok, err := c.quantityCond(quantityColumns, v)
			if err != nil {
				return nil, err
			}
			if ok {
				ms = append(ms, rowMatch("idx_quantity", cond, branches, rank))
			}
		}
		return ms, nil
	case conformance.ParamComposite:
		return c.compositeMatches(param, vs)
	}
	return nil, fmt.Errorf("%s parameters are not searchable", param.Type)
}

// A rowCond is a condition on the columns of an index row; its column
// names are prefixed with the row's alias when the match is used.
type rowCond func(col func(string) string) expr

// rowMatch turns rowConds into a match on table.
func rowMatch(table string, cond rowCond, branches []rowCond, rank int) match {
	m := match{table: table, rank: rank, cond: func(x string) expr { return cond(column(x)) }}
	for _, b := range branches {
		m.branches = append(m.branches, func(x string) expr { return b(column(x)) })
	}
	return m
}

// column qualifies column names with the alias x; a name with "$" is an
// expression whose "$" stands for x.
func column(x string) func(string) string {
	return func(name string) string {
		if strings.Contains(name, "$") {
			return strings.ReplaceAll(name, "$", x)
		}
		return x + "." + name
	}
}

// tokenMatches: code (any system), |code, system|code and system| on the
// code and sys columns; :text, :of-type, :in and :not-in.
func (c *compiler) tokenMatches(table, mod string, vs []search.Value, rank int) ([]match, error) {
	switch mod {
	case "text":
		var ms []match
		for _, v := range vs {
			q := storage.NormalizeString(v.String)
			ms = append(ms, constMatch("idx_token_text", rankText, func(x string) expr { return hasPrefix(x+".text", q) }))
		}
		return ms, nil
	case "of-type":
		var ms []match
		for _, v := range vs {
			tsys, ok, err := c.term(derefOr(v.System, ""))
			if err != nil {
				return nil, err
			}
			if ok {
				ms = append(ms, constMatch("idx_token_type", rankCoding, func(x string) expr {
					return cat(x, ".value = ", arg(v.Value), " AND ", x, ".tcode = ", arg(v.Code), " AND ", x, ".tsys = ", arg(tsys))
				}))
			}
		}
		return ms, nil
	case "in", "not-in":
		var pairs []codePair
		for _, v := range vs {
			codes, err := search.ExpandValueSet(v.URL)
			if err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
			// A code without a system (a code element's, whose system
			// the binding implies) is in the ValueSet when its code is.
			for _, cd := range codes {
				pairs = append(pairs, codePair{cd.Code, 0})
				if sys, ok, err := c.term(cd.System); err != nil {
					return nil, err
				} else if ok && sys != 0 {
					pairs = append(pairs, codePair{cd.Code, sys})
				}
			}
		}
		return pairMatches(table, dedupePairs(pairs), rankIn), nil
	}
	var codes []string
	var pairs []codePair
	var systems []int64
	for _, v := range vs {
		if v.System == nil {
			codes = append(codes, v.Code)
			continue
		}
		sys, ok, err := c.term(*v.System)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			continue // no entry has this system
		case v.Code == "":
			systems = append(systems, sys)
		default:
			pairs = append(pairs, codePair{v.Code, sys})
		}
	}
	var ms []match
	if len(codes) > 0 {
		ms = append(ms, constMatch(table, max(rank, rankValue), func(x string) expr { return in(x+".code", codes) }))
	}
	ms = append(ms, pairMatches(table, pairs, max(rank, rankCoding))...)
	if len(systems) > 0 {
		// The code comes first in the index: a scan of the parameter.
		ms = append(ms, constMatch(table, rankScan, func(x string) expr { return in(x+".sys", systems) }))
	}
	return ms, nil
}

type codePair struct {
	code string
	sys  int64
}

func pairMatches(table string, pairs []codePair, rank int) []match {
	if len(pairs) == 0 {
		return nil
	}
	codes := make([]string, len(pairs))
	systems := make([]int64, len(pairs))
	for i, p := range pairs {
		codes[i], systems[i] = p.code, p.sys
	}
	return []match{constMatch(table, rank, func(x string) expr { return inPairs(x+".code", x+".sys", codes, systems) })}
}

func dedupePairs(pairs []codePair) []codePair {
	seen := make(map[codePair]bool, len(pairs))
	out := pairs[:0]
	for _, p := range pairs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// referenceMatches: Type/id and id on idx_reference, absolute and
// canonical URLs (with their version) on idx_uri.
func referenceMatches(vs []search.Value) []match {
	var ids, urls, targetIDs, targetTypes []string
	for _, v := range vs {
		switch {
		case v.URL != "" && v.Version != "":
			urls = append(urls, v.URL+"|"+v.Version)
		case v.URL != "":
			urls = append(urls, v.URL)
		case v.RefType != "":
			targetIDs, targetTypes = append(targetIDs, v.RefID), append(targetTypes, v.RefType)
		default:
			ids = append(ids, v.RefID)
		}
	}
	var ms []match
	if len(ids) > 0 {
		ms = append(ms, constMatch("idx_reference", rankReference, func(x string) expr { return in(x+".ref_id", ids) }))
	}
	if len(targetIDs) > 0 {
		ms = append(ms, constMatch("idx_reference", rankReference, func(x string) expr {
			return inPairs(x+".ref_id", x+".ref_type", targetIDs, targetTypes)
		}))
	}
	if len(urls) > 0 {
		ms = append(ms, constMatch("idx_uri", rankCoding, func(x string) expr { return in(x+".uri", urls) }))
	}
	return ms
}

// stringMatches: starts-with on the normalized text (default), equality
// of the text as written (:exact), substring of the normalized text
// (:contains).
func stringMatches(mod string, vs []search.Value) []match {
	var ms []match
	for _, v := range vs {
		q := storage.NormalizeString(v.String)
		switch {
		case mod == "exact":
			exact := v.String
			if exact == q {
				exact = "" // as stored: '' when the text is its normal form
			}
			ms = append(ms, constMatch("idx_string", rankValue, func(x string) expr {
				return cat(x, ".norm = ", arg(q), " AND ", x, ".exact = ", arg(exact))
			}))
		case q == "":
			ms = append(ms, constMatch("idx_string", rankScan, func(string) expr { return always }))
		case mod == "contains":
			ms = append(ms, constMatch("idx_string", rankScan, func(x string) expr {
				return cat("instr(", x, ".norm, ", arg(q), ") > 0")
			}))
		default:
			ms = append(ms, constMatch("idx_string", rankPrefix, func(x string) expr { return hasPrefix(x+".norm", q) }))
		}
	}
	return ms
}

// uriMatches: equality, :below (the value is the URI or a path prefix of
// it) and :above (the URI is the value or a path prefix of it).
func uriMatches(mod string, vs []search.Value) []match {
	var equal []string
	var ms []match
	for _, v := range vs {
		s := v.String
		switch mod {
		case "below":
			if strings.HasSuffix(s, "/") {
				ms = append(ms, constMatch("idx_uri", rankText, func(x string) expr { return hasPrefix(x+".uri", s) }))
				continue
			}
			is := func(x string) expr { return cat(x, ".uri = ", arg(s)) }
			under := func(x string) expr { return hasPrefix(x+".uri", s+"/") }
			ms = append(ms, match{table: "idx_uri", rank: rankText,
				cond:     func(x string) expr { return or(is(x), under(x)) },
				branches: []func(string) expr{is, under}})
		case "above":
			prefixes := []string{s}
			for i := 1; i < len(s); i++ {
				if s[i] == '/' {
					prefixes = append(prefixes, s[:i], s[:i+1])
				}
			}
			ms = append(ms, constMatch("idx_uri", rankIn, func(x string) expr { return in(x+".uri", prefixes) }))
		default:
			equal = append(equal, s)
		}
	}
	if len(equal) > 0 {
		ms = append(ms, constMatch("idx_uri", rankValue, func(x string) expr { return in(x+".uri", equal) }))
	}
	return ms
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
