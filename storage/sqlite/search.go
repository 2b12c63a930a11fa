package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medbridge/medbridge/fhir"
	"github.com/medbridge/medbridge/search"
	"github.com/medbridge/medbridge/storage"
)

// Search returns one page of the current resources matching q; see
// storage.Store. The filters compile to a WHERE clause (compile.go) and
// the page is read in one statement, a consistent snapshot:
//
//   - With _sort or a filter that drives the query, the matching
//     resources (their rid, type, id and sort values) are materialized
//     once; the page is the Count+1 of them after the cursor in the order
//     (order.go), Total their number, and whether anything precedes the
//     page is one EXISTS over them.
//   - Otherwise (no filter an index can look up, default order) the page
//     is read in the (type, id) index from the cursor on, stopping after
//     Count+1 matches, and Total is a separate COUNT.
//
// Reading backward (Before) uses the reversed order and flips the page.
// Total is counted for "accurate" always and for "estimate" when the
// matches are materialized anyway; otherwise it is -1.
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
	a := c.alias("r")
	w, err := c.where(q.Types, a, q.Filters, 0)
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
	p := &pageQuery{s: s, q: q, keys: keys, sig: sig, from: from, backward: backward, a: a, where: w.cond}
	if len(keys) == 0 && w.rank == 0 {
		err = p.direct(ctx, page)
	} else {
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
	a        string // the alias of resources in where
	where    expr
}

// hit is a resource read for a page and its position.
type hit struct {
	r   fhir.Resource
	pos *position
}

// materialized reads the page from the materialized matches m.
func (p *pageQuery) materialized(ctx context.Context, page *storage.SearchPage) error {
	cols := []string{p.a + ".rid AS rid", p.a + ".type AS type", p.a + ".id AS id"}
	names := make([]string, 0, len(p.keys)+2)
	outer := make([]string, 0, len(p.keys)+2)
	var values []any
	for i, k := range p.keys {
		v := k.value(p.a + ".rid")
		name := "s" + strconv.Itoa(i)
		cols = append(cols, v.sql+" AS "+name)
		values = append(values, v.args...)
		names, outer = append(names, name), append(outer, "p."+name)
	}
	names, outer = append(names, "type", "id"), append(outer, "p.type", "p.id")
	with := cat("WITH m AS MATERIALIZED (SELECT ", expr{sql: strings.Join(cols, ", "), args: values},
		" FROM resources ", p.a, " WHERE ", p.where, ") ")
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

// direct reads the page in the (type, id) index order.
func (p *pageQuery) direct(ctx context.Context, page *storage.SearchPage) error {
	a := p.a
	countTotal := p.q.Total == "accurate"
	base := cat("FROM resources ", a, " WHERE ", p.where)
	if p.q.Count > 0 {
		where := base
		if p.from != nil {
			where = cat(base, " AND ", p.keyset(p.backward, false))
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
			if other, err = p.exists(ctx, cat("SELECT EXISTS (SELECT 1 ", base, " AND ", p.keyset(!p.backward, true), ")")); err != nil {
				return err
			}
		}
		p.finish(page, hits, other)
	}
	if countTotal {
		return p.count(ctx, page, cat("SELECT count(*) ", base))
	}
	return nil
}

// keyset is the direct order's condition "after the cursor" (before it
// when backward), with the cursor itself when inclusive.
func (p *pageQuery) keyset(backward, inclusive bool) expr {
	op := ">"
	if backward {
		op = "<"
	}
	if inclusive {
		op += "="
	}
	return cat("(", p.a, ".type, ", p.a, ".id) ", op, " (", arg(p.from.typ), ", ", arg(p.from.id), ")")
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

// stmtCache holds prepared search statements by SQL text. The text
// depends on the query's shape (which filters, modifiers and how many
// values), not on the values, so the common searches are prepared once;
// past maxCachedStatements, statements are not kept.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// trace, when set (by tests), sees every statement before it runs.
	trace func(q expr)
}

const maxCachedStatements = 256

func (c *stmtCache) query(ctx context.Context, db *sql.DB, q expr) (*sql.Rows, error) {
	if c.trace != nil {
		c.trace(q)
	}
	c.mu.Lock()
	stmt, ok := c.stmts[q.sql]
	full := len(c.stmts) >= maxCachedStatements
	c.mu.Unlock()
	if !ok {
		if full {
			return db.QueryContext(ctx, q.sql, q.args...)
		}
		var err error
		if stmt, err = db.PrepareContext(ctx, q.sql); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if prev, dup := c.stmts[q.sql]; dup {
			stmt.Close()
			stmt = prev
		} else {
			if c.stmts == nil {
				c.stmts = map[string]*sql.Stmt{}
			}
			c.stmts[q.sql] = stmt
		}
		c.mu.Unlock()
	}
	return stmt.QueryContext(ctx, q.args...)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, stmt := range c.stmts {
		errs = append(errs, stmt.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}

// readChunk bounds the resources of one ReadCurrent query.
const readChunk = 500

// ReadCurrent returns the current, non-deleted versions of refs that
// exist, each once, reading up to readChunk of them per query through the
// (type, id) index.
func (s *Store) ReadCurrent(ctx context.Context, refs []storage.Ref) ([]fhir.Resource, error) {
	seen := make(map[storage.Ref]bool, len(refs))
	keys := make([]storage.Ref, 0, len(refs))
	for _, r := range refs {
		if r.Type != "" && r.ID != "" && !seen[r] {
			seen[r] = true
			keys = append(keys, r)
		}
	}
	var out []fhir.Resource
	for chunk := range slices.Chunk(keys, readChunk) {
		types, ids := make([]string, len(chunk)), make([]string, len(chunk))
		for i, r := range chunk {
			types[i], ids[i] = r.Type, r.ID
		}
		query := cat("SELECT type, id, version, last_updated, method, json FROM resources",
			" WHERE ", inPairs("type", "id", types, ids), " AND deleted = 0")
		rows, err := s.searches.query(ctx, s.reader, query)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read current versions: %w", err)
		}
		for rows.Next() {
			var r fhir.Resource
			var lastUpdated int64
			if err := rows.Scan(&r.Type, &r.ID, &r.Version, &lastUpdated, &r.Method, &r.JSON); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: read current versions: %w", err)
			}
			r.LastUpdated = fromMicros(lastUpdated)
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: read current versions: %w", err)
		}
	}
	return out, nil
}
