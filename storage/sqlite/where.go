package sqlite

import (
	"fmt"
	"slices"

	"github.com/medbridge/medbridge/search"
)

// setQuery is a SELECT of the current resources of some types that match
// some filters.
type setQuery struct {
	sql   expr
	rank  int // of its driver, 0 without
	never bool
}

// set compiles a search inside another (a chain's or _has's), selecting
// the columns col1 and, when not "", col2 of the matches.
func (c *compiler) set(types []string, filters []search.Filter, col1, col2 string, depth int) (setQuery, error) {
	a := c.alias("r")
	w, err := c.where(types, a, filters, depth, false)
	if err != nil || w.never {
		return setQuery{never: true}, err
	}
	cols := a + "." + col1
	if col2 != "" {
		cols += ", " + a + "." + col2
	}
	rank := 0
	if w.driver != nil {
		rank = w.driver.rank
	}
	return setQuery{sql: cat("SELECT ", cols, " ", w.from(true)), rank: rank}, nil
}

// whereClause is a list of ANDed filters on types, compiled for the
// resources alias a, with the filter chosen to drive the query.
type whereClause struct {
	a      string
	types  []string
	driver *driver // nil when no filter can be looked up
	conds  []expr  // the other filters
	never  bool    // nothing matches
}

// driver is the filter a query is driven by.
type driver struct {
	selects []expr // its index lookups (SELECT rid), whose union is its matches
	cond    expr   // the filter as a condition on the alias, like the others
	rank    int
	plain   bool // index lookups only (no _has, whose lookups return any resource)
	// size is the number of rows of the lookups when probed: exact
	// below probeMax, at least probeMax at it; -1 when not probed.
	size int
}

// from is "FROM resources a ... WHERE ...": through the driver's lookups
// and the resources_key index (useDriver), or through the resources_live
// index in (type, id) order, testing every filter. INDEXED BY names the
// index each shape needs: SQLite has no statistics to choose by, and a
// statement that cannot use it fails rather than scanning.
func (w whereClause) from(useDriver bool) expr {
	a := w.a
	var conds []expr
	index, typeCol := "resources_live", a+".type"
	if useDriver && w.driver != nil {
		// The unary + keeps SQLite from looking up by type instead.
		index, typeCol = "resources_key", "+"+typeCol
		conds = append(conds, cat(a, ".rid IN (", join(" UNION ALL ", w.driver.selects), ")"))
	}
	if len(w.types) > 0 {
		conds = append(conds, in(typeCol, w.types))
	}
	conds = append(conds, expr{sql: a + ".deleted = 0"})
	if !useDriver && w.driver != nil {
		conds = append(conds, w.driver.cond)
	}
	conds = append(conds, w.conds...)
	return cat("FROM resources ", a, " INDEXED BY ", index, " WHERE ", and(conds...))
}

// countQuery counts the matches. A plain lookup without other filters is
// counted in its index alone: index rows are those of current resources,
// of the types their pids name.
func (w whereClause) countQuery() expr {
	if w.driver != nil && w.driver.plain && len(w.conds) == 0 {
		return cat("SELECT count(DISTINCT rid) FROM (", join(" UNION ALL ", w.driver.selects), ")")
	}
	return cat("SELECT count(*) ", w.from(true))
}

// where compiles filters (ANDed) on types for the resources alias a and
// chooses the driver: the drivable filter of the best rank, or the one
// whose lookup probes show smallest (see chooseDriver). sizeAlways asks
// for the driver's size even when no other filter competes.
func (c *compiler) where(types []string, a string, filters []search.Filter, depth int, sizeAlways bool) (whereClause, error) {
	r := resourceRow(a)
	w := whereClause{a: a, types: types}
	parts := make([]part, 0, len(filters))
	for i := range filters {
		p, err := c.filter(types, r, &filters[i], depth)
		if err != nil {
			return whereClause{}, err
		}
		if p.never {
			return whereClause{never: true}, nil
		}
		parts = append(parts, p)
	}
	best, size, err := c.chooseDriver(parts, sizeAlways)
	if err != nil {
		return whereClause{}, err
	}
	if size == 0 {
		return whereClause{never: true}, nil
	}
	for i, p := range parts {
		if i != best {
			if p.cond.sql != always.sql {
				w.conds = append(w.conds, p.cond)
			}
			continue
		}
		selects, err := p.driver()
		if err != nil {
			return whereClause{}, err
		}
		w.driver = &driver{selects: selects, cond: p.cond, rank: p.rank, plain: p.probe, size: size}
	}
	return w, nil
}

// probeMax bounds the index entries one probe reads: reading a few
// thousand entries takes a fraction of a millisecond.
var probeMax = 4096

// chooseDriver returns the part to drive the query (-1: none) and the
// size of its lookup (see driver.size). By rank alone, the best is the
// highest; but when several plain lookups compete (or sizeAlways), it
// probes them in rank order, counting each one's rows up to the smallest
// count so far (starting at probeMax), and takes the smallest: a driver
// of n rows costs n lookups whatever the others would have cost. This
// catches what ranks cannot know, such as date=gt<yesterday> matching a
// few rows while code=<a common code> matches a tenth of the data. When
// every probe reaches probeMax, the ranks decide.
func (c *compiler) chooseDriver(parts []part, sizeAlways bool) (int, int, error) {
	best := -1
	var probed []int
	for i, p := range parts {
		if p.rank == 0 {
			continue
		}
		if best < 0 || p.rank > parts[best].rank {
			best = i
		}
		if p.probe {
			probed = append(probed, i)
		}
	}
	if len(probed) == 0 || len(probed) == 1 && !sizeAlways {
		return best, -1, nil
	}
	slices.SortStableFunc(probed, func(i, j int) int { return parts[j].rank - parts[i].rank })
	limit, choice := probeMax, -1
	for _, i := range probed {
		selects, err := parts[i].driver()
		if err != nil {
			return 0, 0, err
		}
		n, err := c.count(cat("SELECT count(*) FROM (SELECT 1 FROM (", join(" UNION ALL ", selects),
			") LIMIT ", arg(limit), ")"))
		if err != nil {
			return 0, 0, err
		}
		if n < limit {
			limit, choice = n, i
		}
		if limit == 0 {
			break // nothing matches
		}
	}
	if choice >= 0 {
		return choice, limit, nil
	}
	if parts[best].probe {
		return best, probeMax, nil
	}
	return best, -1, nil
}

// count runs a query that returns one number.
func (c *compiler) count(q expr) (int, error) {
	rows, err := c.s.searches.query(c.ctx, c.s.reader, q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("sqlite: search: %w", err)
		}
	}
	return n, rows.Err()
}
