package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Search returns one page of the current resources matching q; see
// storage.Store. The filters compile to a WHERE clause with a driver
// (compile.go), and the page is read in one statement, a consistent
// snapshot, in one of three ways:
//
//   - materialized: the matches (rid, type, id and sort values) of the
//     driver's lookups are materialized; the page is the Count+1 of them
//     after the cursor in the order (order.go), Total their number, and
//     whether anything precedes the page one EXISTS over them. This is
//     the way with _sort, and with a driver of fewer than probeMax rows.
//   - walk: without _sort and with a driver of probeMax rows or more, the
//     page is looked for among the next few resources of the types in
//     (type, id) order (walkFactor per resource of the page), testing
//     every filter; when that does not settle the page, the search is
//     materialized after all. Total, when "accurate", is a COUNT through
//     the driver.
//   - direct: without a drivable filter, the types' resources are read in
//     (type, id) order from the cursor on, testing every filter, until
//     Count+1 match. Total, when "accurate", is a COUNT of the same.
//
// Reading backward (Before) uses the reversed order and flips the page.
// "estimate" counts only when the matches are materialized anyway.
func (s *Store) Search(ctx context.Context, q *search.Query) (*storage.SearchPage, error) {
	if q.After != "" && q.Before != "" {
		return nil, fmt.Errorf("sqlite: search: %w: both After and Before", storage.ErrBadCursor)
	}
	if q.Count < 0 {
		return nil, fmt.Errorf("sqlite: search: count %d, want >= 0", q.Count)
	}
	c := &compiler{s: s, ctx: ctx, now: time.Now()}
	keys, err := c.sortKeys(q.Types, q.Sort)
	if err != nil {
		return nil, err
	}
	sig := signature(q.Sort)
	var from *position
	backward := q.Before != ""
	if cursor := q.After + q.Before; cursor != "" {
		if from, err = decodeCursor(cursor, sig, keys); err != nil {
			return nil, err
		}
	}
	unsorted := len(keys) == 0 && q.Count > 0
	w, err := c.where(q.Types, c.alias("r"), q.Filters, 0, unsorted)
	if err != nil {
		return nil, err
	}
	page := &storage.SearchPage{Total: -1}
	if w.never {
		if q.Total == "accurate" || q.Total == "estimate" {
			page.Total = 0
		}
		return page, nil
	}
	p := &pageQuery{s: s, q: q, keys: keys, sig: sig, from: from, backward: backward, w: w}
	switch {
	case unsorted && w.driver == nil:
		err = p.direct(ctx, page)
	case unsorted && w.driver.size >= probeMax:
		var done bool
		if done, err = p.walk(ctx, page); err == nil && !done {
			err = p.materialized(ctx, page)
		}
	default:
		err = p.materialized(ctx, page)
	}
	if err != nil {
		return nil, err
	}
	return page, nil
}

// pageQuery reads one page of a compiled search.
type pageQuery struct {
	s        *Store
	q        *search.Query
	keys     []sortKey
	sig      string
	from     *position
	backward bool
	w        whereClause
}

// hit is a resource read for a page and its position.
type hit struct {
	r   fhir.Resource
	pos *position
}

// materialized reads the page from the materialized matches m.
func (p *pageQuery) materialized(ctx context.Context, page *storage.SearchPage) error {
	a := p.w.a
	cols := []string{a + ".rid AS rid", a + ".type AS type", a + ".id AS id"}
	names := make([]string, 0, len(p.keys)+2)
	outer := make([]string, 0, len(p.keys)+2)
	var values []any
	for i, k := range p.keys {
		v := k.value(a + ".rid")
		name := "s" + strconv.Itoa(i)
		cols = append(cols, v.sql+" AS "+name)
		values = append(values, v.args...)
		names, outer = append(names, name), append(outer, "p."+name)
	}
	names, outer = append(names, "type", "id"), append(outer, "p.type", "p.id")
	with := cat("WITH m AS MATERIALIZED (SELECT ", expr{sql: strings.Join(cols, ", "), args: values},
		" ", p.w.from(true), ") ")
	countTotal := p.q.Total == "accurate" || p.q.Total == "estimate"
	if p.q.Count == 0 {
		if countTotal {
			return p.count(ctx, page, cat(with, "SELECT count(*) FROM m"))
		}
		return nil
	}

	inner := cat("SELECT * FROM m")
	var behind expr
	if p.from != nil {
		after := beyond(p.keys, names, p.from, p.backward)
		inner = cat(inner, " WHERE ", after)
		behind = cat("EXISTS (SELECT 1 FROM m WHERE NOT ", after, ")")
	}
	inner = cat(inner, " ORDER BY ", orderBy(p.keys, names, p.backward), " LIMIT ", arg(p.q.Count+1))
	extra := ""
	var extraArgs []any
	if countTotal {
		extra += ", (SELECT count(*) FROM m)"
	}
	if p.from != nil {
		extra += ", " + behind.sql
		extraArgs = behind.args
	}
	sel := "p.rid, p.type, p.id, r.version, r.last_updated, r.method, r.json"
	for i := range p.keys {
		sel += ", p.s" + strconv.Itoa(i)
	}
	query := cat(with, "SELECT ", sel, expr{sql: extra, args: extraArgs}, " FROM (", inner,
		") p JOIN resources r ON r.rid = p.rid ORDER BY ", orderBy(p.keys, outer, p.backward))

	var total int
	var other bool
	hits, err := p.read(ctx, query, func(dest []any) []any {
		if countTotal {
			dest = append(dest, &total)
		}
		if p.from != nil {
			dest = append(dest, &other)
		}
		return dest
	})
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		// Total and behind came with the rows; without any, ask again.
		if countTotal {
			if err := p.count(ctx, page, cat(with, "SELECT count(*) FROM m")); err != nil {
				return err
			}
		}
		if p.from != nil {
			if other, err = p.exists(ctx, cat(with, "SELECT ", behind)); err != nil {
				return err
			}
		}
	} else if countTotal {
		page.Total = total
	}
	p.finish(page, hits, other)
	return nil
}

// A walk tests at most walkFactor resources per resource of the page,
// and is not tried for pages that would need more than walkRows: its
// matches must be at least 1 in walkFactor of the types' resources to
// fill a page, and when they are not, the walk is wasted work before
// the search is materialized. Variables for tests.
var walkFactor, walkRows = 20, 5000

// walk looks for the page among the next walkFactor×(Count+1) resources
// of the types in (type, id) order, testing every filter on each. It
// reports false, having changed nothing, when that does not settle the
// page (fewer than Count+1 matches there, and more resources beyond) or
// the page is too large to try.
func (p *pageQuery) walk(ctx context.Context, page *storage.SearchPage) (bool, error) {
	budget := walkFactor * (p.q.Count + 1)
	if budget > walkRows {
		return false, nil
	}
	a, dir := p.w.a, "ASC"
	if p.backward {
		dir = "DESC"
	}
	live := p.live(p.keysetFrom(p.backward, false), dir, budget)
	conds := and(append([]expr{p.w.driver.cond}, p.w.conds...)...)
	query := cat("WITH w AS MATERIALIZED (", live, ") ",
		"SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.method, r.json, (SELECT count(*) FROM w) ",
		"FROM (SELECT ", a, ".rid, ", a, ".type, ", a, ".id FROM w ", a, " WHERE ", conds,
		" ORDER BY ", a, ".type ", dir, ", ", a, ".id ", dir, " LIMIT ", arg(p.q.Count+1), ") p ",
		"JOIN resources r ON r.rid = p.rid ORDER BY p.type ", dir, ", p.id ", dir)
	var walked int
	hits, err := p.read(ctx, query, func(dest []any) []any { return append(dest, &walked) })
	if err != nil {
		return false, err
	}
	if len(hits) <= p.q.Count && (len(hits) == 0 || walked == budget) {
		return false, nil
	}
	other := false
	if p.from != nil {
		// Anything at or on the other side of the cursor, within as many
		// resources; when they hold no match but there are more, assume
		// there is one, as there was when the cursor was made.
		back := p.live(p.keysetFrom(!p.backward, true), map[string]string{"ASC": "DESC", "DESC": "ASC"}[dir], budget)
		q := cat("WITH w AS MATERIALIZED (", back, ") SELECT EXISTS (SELECT 1 FROM w ", a, " WHERE ", conds,
			") OR (SELECT count(*) FROM w) = ", arg(budget))
		if other, err = p.exists(ctx, q); err != nil {
			return false, err
		}
	}
	p.finish(page, hits, other)
	if p.q.Total == "accurate" {
		return true, p.count(ctx, page, p.w.countQuery())
	}
	return true, nil
}

// live selects rid, type and id of the next limit (0: all) resources of
// the types in the resources_live index order dir, from keyset on.
func (p *pageQuery) live(keyset expr, dir string, limit int) expr {
	a := p.w.a
	conds := []expr{}
	if len(p.w.types) > 0 {
		conds = append(conds, in(a+".type", p.w.types))
	}
	conds = append(conds, expr{sql: a + ".deleted = 0"}, keyset)
	q := cat("SELECT ", a, ".rid AS rid, ", a, ".type AS type, ", a, ".id AS id FROM resources ", a,
		" INDEXED BY resources_live WHERE ", and(conds...), " ORDER BY ", a, ".type ", dir, ", ", a, ".id ", dir)
	if limit > 0 {
		q = cat(q, " LIMIT ", arg(limit))
	}
	return q
}

// direct reads the page through the resources_live index order.
func (p *pageQuery) direct(ctx context.Context, page *storage.SearchPage) error {
	a := p.w.a
	base := p.w.from(false)
	if p.q.Count > 0 {
		where := base
		if p.from != nil {
			where = cat(base, " AND ", p.keysetFrom(p.backward, false))
		}
		dir := "ASC"
		if p.backward {
			dir = "DESC"
		}
		query := cat("SELECT ", a, ".rid, ", a, ".type, ", a, ".id, ", a, ".version, ", a, ".last_updated, ",
			a, ".method, ", a, ".json ", where, " ORDER BY ", a, ".type ", dir, ", ", a, ".id ", dir,
			" LIMIT ", arg(p.q.Count+1))
		hits, err := p.read(ctx, query, nil)
		if err != nil {
			return err
		}
		other := false
		if p.from != nil {
			// Anything at or on the other side of the cursor.
			if other, err = p.exists(ctx, cat("SELECT EXISTS (SELECT 1 ", base, " AND ", p.keysetFrom(!p.backward, true), ")")); err != nil {
				return err
			}
		}
		p.finish(page, hits, other)
	}
	if p.q.Total == "accurate" {
		return p.count(ctx, page, cat("SELECT count(*) ", base))
	}
	return nil
}

// keysetFrom is the (type, id) order's condition "after the cursor"
// (before it when backward), with the cursor itself when inclusive;
// always true without a cursor.
func (p *pageQuery) keysetFrom(backward, inclusive bool) expr {
	if p.from == nil {
		return always
	}
	op := ">"
	if backward {
		op = "<"
	}
	if inclusive {
		op += "="
	}
	return cat("(", p.w.a, ".type, ", p.w.a, ".id) ", op, " (", arg(p.from.typ), ", ", arg(p.from.id), ")")
}

// read runs query, whose columns are rid, type, id, version,
// last_updated, method, json, the sort values, then what more adds, and
// returns the rows as hits in the order read.
func (p *pageQuery) read(ctx context.Context, query expr, more func([]any) []any) ([]hit, error) {
	rows, err := p.s.searches.query(ctx, p.s.reader, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	var hits []hit
	vals := make([]any, len(p.keys))
	for rows.Next() {
		var h hit
		var rid, lastUpdated int64
		dest := []any{&rid, &h.r.Type, &h.r.ID, &h.r.Version, &lastUpdated, &h.r.Method, &h.r.JSON}
		for i := range vals {
			vals[i] = nil
			dest = append(dest, &vals[i])
		}
		if more != nil {
			dest = more(dest)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		h.r.LastUpdated = fromMicros(lastUpdated)
		h.pos = &position{typ: h.r.Type, id: h.r.ID, vals: make([]any, len(vals))}
		for i, v := range vals {
			h.pos.vals[i] = sortValue(p.keys[i].kind, v)
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return hits, nil
}

// finish puts hits (Count+1 at most, in reading order) on the page with
// its cursors. other says whether a match lies on the side of the cursor
// the page was not read towards.
func (p *pageQuery) finish(page *storage.SearchPage, hits []hit, other bool) {
	more := len(hits) > p.q.Count
	hits = hits[:min(len(hits), p.q.Count)]
	if p.backward {
		slices.Reverse(hits)
	}
	for _, h := range hits {
		page.Resources = append(page.Resources, h.r)
	}
	ahead, behind := more, other && p.from != nil
	if p.backward {
		ahead, behind = other && p.from != nil, more
	}
	first, last := p.from, p.from
	if len(hits) > 0 {
		first, last = hits[0].pos, hits[len(hits)-1].pos
	}
	if ahead && last != nil {
		page.Next = last.encode(p.sig)
	}
	if behind && first != nil {
		page.Prev = first.encode(p.sig)
	}
}

func (p *pageQuery) count(ctx context.Context, page *storage.SearchPage, query expr) error {
	rows, err := p.s.searches.query(ctx, p.s.reader, query)
	if err != nil {
		return fmt.Errorf("sqlite: search: counting: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return fmt.Errorf("sqlite: search: counting: %w", errors.Join(rows.Err(), sql.ErrNoRows))
	}
	if err := rows.Scan(&page.Total); err != nil {
		return fmt.Errorf("sqlite: search: counting: %w", err)
	}
	return rows.Close()
}

func (p *pageQuery) exists(ctx context.Context, query expr) (bool, error) {
	rows, err := p.s.searches.query(ctx, p.s.reader, query)
	if err != nil {
		return false, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	var found bool
	if rows.Next() {
		if err := rows.Scan(&found); err != nil {
			return false, fmt.Errorf("sqlite: search: %w", err)
		}
	}
	return found, rows.Close()
}
