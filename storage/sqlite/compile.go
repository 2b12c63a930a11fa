package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/medbridge/medbridge/conformance"
	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
)

// How a search becomes SQL. The resources matching a list of ANDed
// filters are
//
//	SELECT ... FROM resources r INDEXED BY resources_key
//	WHERE r.rid IN (<driver>) AND +r.type IN (<types>) AND r.deleted = 0
//	  AND <cond> AND <cond> ...
//
// where the driver is an index lookup of the filter likely to return
// fewest rows (its rank, refined by probes), and every other filter is a
// cond: an EXISTS on the (rid, pid) index of its table, which tests the
// one candidate. Without a drivable filter, or to read the first matches
// of a large driver in (type, id) order, the search walks the
// resources_live index and tests every filter as a cond (whereClause.from). A filter on a value compiles to matches (match.go);
// a chain to a lookup of references to the inner search's results; _has
// to a lookup of references from the inner search's results to the row
// (see chain and has).

// compiler turns a search.Query's filters into SQL.
type compiler struct {
	s       *Store
	ctx     context.Context
	now     time.Time // the instant "ap" dates approximate
	aliases int
}

// alias returns a table alias unused in the statement so far.
func (c *compiler) alias(prefix string) string {
	c.aliases++
	return fmt.Sprintf("%s%d", prefix, c.aliases)
}

func (c *compiler) term(text string) (int64, bool, error) {
	id, ok, err := c.s.termID(c.ctx, text)
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: search: %w", err)
	}
	return id, ok, nil
}

func (c *compiler) params(types []string, code string) ([]int64, error) {
	pids, err := c.s.paramIDs(c.ctx, types, code)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return pids, nil
}

// row names the SQL expressions of the resource a cond tests.
type row struct{ rid, typ, id string }

func resourceRow(alias string) row {
	return row{rid: alias + ".rid", typ: alias + ".type", id: alias + ".id"}
}

// part is a compiled filter: cond holds for the rows that match it;
// driver, when rank > 0, returns SELECTs of rid whose union is exactly
// the current resources (of the searched types, if not deleted) that
// match it; never is set when nothing can match.
type part struct {
	cond   expr
	driver func() ([]expr, error)
	rank   int
	never  bool
	// probe says the driver is a plain index lookup, cheap to probe
	// (see where); chains and _has materialize inner searches first.
	probe bool
}

var neverPart = part{cond: never, never: true}

// filter compiles f for the resource r, of one of types.
func (c *compiler) filter(types []string, r row, f *search.Filter, depth int) (part, error) {
	if depth > maxDepth {
		return part{}, fhir.Errorf(http.StatusBadRequest, fhir.CodeTooCostly, "chains and _has nest more than %d deep", maxDepth)
	}
	switch {
	case len(f.Or) > 0:
		return c.or(types, r, f.Or, depth)
	case f.Has != nil:
		return c.has(types, r, f.Has, depth)
	case f.Param == nil:
		return part{}, errors.New("sqlite: search: a filter without a parameter")
	case f.Chain != nil:
		return c.chain(types, r, f, depth)
	}
	pids, err := c.params(types, f.Param.Code)
	if err != nil {
		return part{}, err
	}
	if f.Missing != nil {
		return c.missing(pids, r, f.Param.Type, *f.Missing), nil
	}
	var ms []match
	if len(pids) > 0 {
		if ms, err = c.valueMatches(f.Param, f.Modifier, f.Values); err != nil {
			return part{}, err
		}
	}
	p := c.plain(pids, r, ms)
	if f.Modifier == "not" || f.Modifier == "not-in" {
		// Resources without a matching value, those without any value
		// included.
		if p.never {
			return part{cond: always}, nil
		}
		return part{cond: cat("NOT ", p.cond)}, nil
	}
	return p, nil
}

// maxDepth bounds the nesting of chains and _has.
const maxDepth = 8

// plain is the part of value matches on the parameters pids.
func (c *compiler) plain(pids []int64, r row, ms []match) part {
	if len(pids) == 0 || len(ms) == 0 {
		return neverPart
	}
	// One EXISTS per table, its matches ORed.
	var tables []string
	byTable := map[string][]match{}
	rank := rankID
	for _, m := range ms {
		if byTable[m.table] == nil {
			tables = append(tables, m.table)
		}
		byTable[m.table] = append(byTable[m.table], m)
		rank = min(rank, m.rank)
	}
	var exists []expr
	for _, t := range tables {
		x := c.alias("x")
		var conds []expr
		for _, m := range byTable[t] {
			conds = append(conds, m.cond(x))
		}
		exists = append(exists, cat("EXISTS (SELECT 1 FROM ", t, " ", x, " WHERE ", x, ".rid = ", r.rid,
			" AND ", in(x+".pid", pids), " AND ", or(conds...), ")"))
	}
	return part{cond: or(exists...), rank: rank, probe: true, driver: func() ([]expr, error) {
		var selects []expr
		for _, m := range ms {
			for _, b := range m.branchList() {
				x := c.alias("x")
				selects = append(selects, cat("SELECT ", x, ".rid FROM ", m.table, " ", x,
					" WHERE ", in(x+".pid", pids), " AND ", b(x)))
			}
		}
		return selects, nil
	}}
}

// valueTables are the tables holding the entries of each parameter type.
var valueTables = map[string][]string{
	conformance.ParamString:    {"idx_string"},
	conformance.ParamToken:     {"idx_token", "idx_token_text"},
	conformance.ParamReference: {"idx_reference", "idx_uri", "idx_token"},
	conformance.ParamURI:       {"idx_uri"},
	conformance.ParamDate:      {"idx_date"},
	conformance.ParamNumber:    {"idx_number"},
	conformance.ParamQuantity:  {"idx_quantity"},
	conformance.ParamComposite: {"idx_composite"},
}

// missing is :missing: whether the resource has no entry at all for the
// parameter.
func (c *compiler) missing(pids []int64, r row, typ string, missing bool) part {
	if len(pids) == 0 {
		if missing {
			return part{cond: always}
		}
		return neverPart
	}
	var exists []expr
	for _, t := range valueTables[typ] {
		x := c.alias("x")
		exists = append(exists, cat("EXISTS (SELECT 1 FROM ", t, " ", x, " WHERE ", x, ".rid = ", r.rid,
			" AND ", in(x+".pid", pids), ")"))
	}
	if missing {
		return part{cond: cat("NOT ", or(exists...))}
	}
	return part{cond: or(exists...), rank: rankScan, probe: true, driver: func() ([]expr, error) {
		var selects []expr
		for _, t := range valueTables[typ] {
			x := c.alias("x")
			selects = append(selects, cat("SELECT ", x, ".rid FROM ", t, " ", x, " WHERE ", in(x+".pid", pids)))
		}
		return selects, nil
	}}
}

// or is a filter whose alternatives are ORed.
func (c *compiler) or(types []string, r row, alternatives []search.Filter, depth int) (part, error) {
	var parts []part
	for i := range alternatives {
		p, err := c.filter(types, r, &alternatives[i], depth)
		if err != nil {
			return part{}, err
		}
		if !p.never {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return neverPart, nil
	}
	conds := make([]expr, len(parts))
	rank := rankID
	probe := true
	for i, p := range parts {
		conds[i] = p.cond
		rank = min(rank, p.rank)
		probe = probe && p.probe
	}
	if rank == 0 {
		return part{cond: or(conds...)}, nil
	}
	return part{cond: or(conds...), rank: rank, probe: probe, driver: func() ([]expr, error) {
		var selects []expr
		for _, p := range parts {
			s, err := p.driver()
			if err != nil {
				return nil, err
			}
			selects = append(selects, s...)
		}
		return selects, nil
	}}, nil
}

// chain: the resource refers through f.Param to a resource of f.ChainType
// that matches f.Chain. The inner search's (id, type) pairs are looked up
// in the reference index.
func (c *compiler) chain(types []string, r row, f *search.Filter, depth int) (part, error) {
	pids, err := c.params(types, f.Param.Code)
	if err != nil {
		return part{}, err
	}
	inner, err := c.set([]string{f.ChainType}, []search.Filter{*f.Chain}, "id", "type", depth+1)
	if err != nil || len(pids) == 0 || inner.never {
		return neverPart, err
	}
	lookup := func(x string) expr {
		return cat(in(x+".pid", pids), " AND (", x, ".ref_id, ", x, ".ref_type) IN (", inner.sql, ")")
	}
	x := c.alias("x")
	cond := cat("EXISTS (SELECT 1 FROM idx_reference ", x, " WHERE ", x, ".rid = ", r.rid, " AND ", lookup(x), ")")
	return part{cond: cond, rank: linkRank(inner.rank), driver: func() ([]expr, error) {
		x := c.alias("x")
		return []expr{cat("SELECT ", x, ".rid FROM idx_reference ", x, " WHERE ", lookup(x))}, nil
	}}, nil
}

// has: a resource of h.Type that matches h.Filter refers to the resource
// through h.Param. Testing one resource looks up the references to it and
// tests each referrer; as a driver, the inner search's references are
// looked up and their targets read from the (type, id) index.
func (c *compiler) has(types []string, r row, h *search.Has, depth int) (part, error) {
	pids, err := c.params([]string{h.Type}, h.Param.Code)
	if err != nil || len(pids) == 0 {
		return neverPart, err
	}
	x := c.alias("x")
	// The referrer is known by its rid in the reference index; its type
	// and id are read only if a nested _has needs them.
	referrer := row{
		rid: x + ".rid",
		typ: "(SELECT type FROM resources WHERE rid = " + x + ".rid)",
		id:  "(SELECT id FROM resources WHERE rid = " + x + ".rid)",
	}
	inner, err := c.filter([]string{h.Type}, referrer, &h.Filter, depth+1)
	if err != nil || inner.never {
		return neverPart, err
	}
	cond := cat("EXISTS (SELECT 1 FROM idx_reference ", x, " WHERE ", in(x+".pid", pids),
		" AND ", x, ".ref_id = ", r.id, " AND ", x, ".ref_type = ", r.typ, " AND ", inner.cond, ")")
	// The driver needs the inner search as a set; how good a driver it is
	// depends on the inner search's own driver.
	set, err := c.set([]string{h.Type}, []search.Filter{h.Filter}, "rid", "", depth+1)
	if err != nil {
		return part{}, err
	}
	return part{cond: cond, rank: linkRank(set.rank), driver: func() ([]expr, error) {
		y, z := c.alias("r"), c.alias("x")
		targets := cat("SELECT ", z, ".ref_type, ", z, ".ref_id FROM idx_reference ", z,
			" WHERE ", z, ".rid IN (", set.sql, ") AND ", in(z+".pid", pids))
		if len(types) > 0 {
			targets = cat(targets, " AND ", in(z+".ref_type", types))
		}
		return []expr{cat("SELECT ", y, ".rid FROM resources ", y, " WHERE (", y, ".type, ", y, ".id) IN (", targets, ")")}, nil
	}}, nil
}

// linkRank is the rank of a chain or _has whose inner search has rank
// inner: somewhat worse, as each inner match may be referred to (or
// refer) many times; without an inner driver, barely a driver at all.
func linkRank(inner int) int {
	if inner == 0 {
		return rankScan
	}
	return max(inner-20, rankScan+1)
}
