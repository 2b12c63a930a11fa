package sqlite

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// LastN and Stats run over the matches of a search, compiled as Search
// compiles them (whereClause.from), materialized as m with the few index
// values they need per match; neither reads a resource's JSON before it
// is returned.

// LastN returns the max most recent Observations of each subject and code
// among the matches of q; see storage.Store. One statement:
//
//	WITH m AS MATERIALIZED (SELECT rid, id, <subject>, <codes>, <date> FROM <matches>)
//	SELECT ... FROM (SELECT rid, row_number() OVER (PARTITION BY subject, codes
//	                 ORDER BY date DESC NULLS LAST, id) AS k FROM m) p
//	JOIN resources r ON r.rid = p.rid WHERE p.k <= max
//
// where the subject is the "subject" reference as "Type/id" (else its URL,
// else ""), the codes are the "code" codings as a sorted JSON array of
// [system term, code] (a code with text only has none), and the date is
// the latest start of the "date" values (none: after every date), each
// read from its index table by (rid, pid). Groups come in the order of
// their keys, each newest first.
func (s *Store) LastN(ctx context.Context, q *search.Query, max int) ([]fhir.Resource, error) {
	if err := checkLastN(q, max); err != nil {
		return nil, err
	}
	types := []string{"Observation"}
	c := &compiler{s: s, ctx: ctx, now: time.Now()}
	w, err := c.where(types, c.alias("r"), q.Filters, 0, false)
	if err != nil || w.never {
		return nil, err
	}
	rid := w.a + ".rid"
	subject, err := c.params(types, "subject")
	if err != nil {
		return nil, err
	}
	code, err := c.params(types, "code")
	if err != nil {
		return nil, err
	}
	date, err := c.params(types, "date")
	if err != nil {
		return nil, err
	}
	lookup := func(value, table string, pids []int64) expr {
		x := c.alias("x")
		return cat("(SELECT ", strings.ReplaceAll(value, "$", x), " FROM ", table, " ", x,
			" WHERE ", x, ".rid = ", rid, " AND ", in(x+".pid", pids), ")")
	}
	cols := cat(rid, " AS rid, ", w.a, ".id AS id, ",
		"coalesce(", lookup("min($.ref_type || '/' || $.ref_id)", "idx_reference", subject), ", ",
		lookup("min($.uri)", "idx_uri", subject), ", '') AS subject, ",
		lookup("json_group_array(json_array($.sys, $.code) ORDER BY $.sys, $.code)", "idx_token", code), " AS codes, ",
		lookup("max($.lo)", "idx_date", date), " AS at")
	query := cat("WITH m AS MATERIALIZED (SELECT ", cols, " ", w.from(true), ") ",
		"SELECT r.type, r.id, r.version, r.last_updated, r.method, r.json FROM (",
		"SELECT m.rid AS rid, m.subject AS subject, m.codes AS codes, row_number() OVER ",
		"(PARTITION BY m.subject, m.codes ORDER BY m.at DESC NULLS LAST, m.id) AS k FROM m) p ",
		"JOIN resources r ON r.rid = p.rid WHERE p.k <= ", arg(max), " ORDER BY p.subject, p.codes, p.k")
	rows, err := s.searches.query(ctx, s.reader, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lastn: %w", err)
	}
	defer rows.Close()
	var out []fhir.Resource
	for rows.Next() {
		var r fhir.Resource
		var lastUpdated int64
		if err := rows.Scan(&r.Type, &r.ID, &r.Version, &lastUpdated, &r.Method, &r.JSON); err != nil {
			return nil, fmt.Errorf("sqlite: lastn: %w", err)
		}
		r.LastUpdated = fromMicros(lastUpdated)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: lastn: %w", err)
	}
	return out, nil
}

// Stats summarizes the values of the quantity parameter param among the
// matches of q; see storage.Store. One statement numbers each unit's
// values in order and returns, with the unit's count, sum and sum of
// squares, only the values at the ranks the order statistics need (the
// first, the last, and the two around each quantile's rank):
//
//	WITH m AS MATERIALIZED (SELECT rid FROM <matches>)
//	SELECT unit, n, sum, squares, k, num FROM (
//	  SELECT sys, code, num, row_number() OVER (PARTITION BY sys, code ORDER BY num) - 1 AS k,
//	         count(*), sum(num), sum(num * num) OVER (PARTITION BY sys, code)
//	  FROM m JOIN idx_quantity ON rid = m.rid AND pid IN (<param>))
//	WHERE k = 0 OR k = n - 1 OR k - CAST(<quantile> * (n - 1) AS INTEGER) IN (0, 1) ...
//
// The unit is the system and code as written: idx_quantity keeps the code
// as written in code unless it equals the (canonical) unit. A value that
// a resource has twice in the same unit counts once, as idx_quantity
// holds it once.
func (s *Store) Stats(ctx context.Context, q *search.Query, param string, quantiles []float64) ([]storage.Stats, error) {
	if err := checkQuantiles(quantiles); err != nil {
		return nil, err
	}
	c := &compiler{s: s, ctx: ctx, now: time.Now()}
	w, err := c.where(q.Types, c.alias("r"), q.Filters, 0, false)
	if err != nil || w.never {
		return nil, err
	}
	pids, err := c.params(q.Types, param)
	if err != nil || len(pids) == 0 {
		return nil, err
	}
	x := c.alias("x")
	unit := "iif(" + x + ".code = '', " + x + ".unit, " + x + ".code)"
	values := cat("SELECT ", x, ".sys AS sys, ", unit, " AS code, ", x, ".num AS num, ",
		"row_number() OVER (PARTITION BY ", x, ".sys, ", unit, " ORDER BY ", x, ".num) - 1 AS k, ",
		"count(*) OVER u AS n, sum(", x, ".num) OVER u AS total, sum(", x, ".num * ", x, ".num) OVER u AS squares ",
		"FROM m JOIN idx_quantity ", x, " INDEXED BY idx_quantity_rid ON ", x, ".rid = m.rid AND ", in(x+".pid", pids),
		" WINDOW u AS (PARTITION BY ", x, ".sys, ", unit, ")")
	ranks := []expr{{sql: "p.k = 0"}, {sql: "p.k = p.n - 1"}}
	for _, p := range quantiles {
		ranks = append(ranks, cat("p.k - CAST(", arg(p), " * (p.n - 1) AS INTEGER) IN (0, 1)"))
	}
	query := cat("WITH m AS MATERIALIZED (SELECT ", w.a, ".rid AS rid ", w.from(true), ") ",
		"SELECT coalesce(t.text, ''), p.code, p.n, p.total, p.squares, p.k, p.num FROM (", values, ") p ",
		"LEFT JOIN terms t ON t.id = p.sys WHERE ", or(ranks...))
	rows, err := s.searches.query(ctx, s.reader, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	defer rows.Close()
	units := map[[2]string]*orderStats{}
	for rows.Next() {
		var st storage.Stats
		var k int
		var v float64
		if err := rows.Scan(&st.System, &st.Code, &st.Count, &st.Sum, &st.SumSquares, &k, &v); err != nil {
			return nil, fmt.Errorf("sqlite: stats: %w", err)
		}
		u := units[[2]string{st.System, st.Code}]
		if u == nil {
			u = &orderStats{Stats: st, at: map[int]float64{}}
			units[[2]string{st.System, st.Code}] = u
		}
		u.at[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: stats: %w", err)
	}
	out := make([]storage.Stats, 0, len(units))
	for _, u := range units {
		st, err := u.finish(quantiles)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b storage.Stats) int {
		return strings.Compare(a.System+"\x00"+a.Code, b.System+"\x00"+b.Code)
	})
	return out, nil
}

// orderStats is a unit's Stats with the values read at some ranks of its
// sorted values.
type orderStats struct {
	storage.Stats
	at map[int]float64 // rank (0-based) → value
}

// finish sets Min, Max and the quantiles from the values read.
func (u *orderStats) finish(quantiles []float64) (storage.Stats, error) {
	st := u.Stats
	value := func(k int) (float64, error) {
		v, ok := u.at[k]
		if !ok {
			return 0, fmt.Errorf("sqlite: stats: no value at rank %d of %d in %s|%s", k, st.Count, st.System, st.Code)
		}
		return v, nil
	}
	var err error
	if st.Min, err = value(0); err != nil {
		return st, err
	}
	if st.Max, err = value(st.Count - 1); err != nil {
		return st, err
	}
	st.Quantiles = make([]float64, len(quantiles))
	for i, p := range quantiles {
		rank := p * float64(st.Count-1)
		k := int(rank) // as CAST(... AS INTEGER): rank >= 0
		lo, err := value(k)
		if err != nil {
			return st, err
		}
		st.Quantiles[i] = lo
		if k+1 < st.Count {
			hi, err := value(k + 1)
			if err != nil {
				return st, err
			}
			st.Quantiles[i] = lo + (rank-float64(k))*(hi-lo)
		}
	}
	return st, nil
}

// checkLastN refuses a LastN that is not of Observations or asks for
// fewer than one per group.
func checkLastN(q *search.Query, max int) error {
	if len(q.Types) > 0 && !slices.Equal(q.Types, []string{"Observation"}) {
		return fmt.Errorf("sqlite: lastn: types %v: LastN is of Observations only", q.Types)
	}
	if max < 1 {
		return fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "max must be at least 1, not %d", max)
	}
	return nil
}

// checkQuantiles refuses quantiles outside [0, 1].
func checkQuantiles(quantiles []float64) error {
	for _, p := range quantiles {
		if !(p >= 0 && p <= 1) {
			return fhir.Errorf(http.StatusBadRequest, fhir.CodeValue, "a quantile must be in [0, 1], not %v", p)
		}
	}
	return nil
}
