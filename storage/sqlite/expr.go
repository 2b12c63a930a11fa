package sqlite

import (
	"encoding/json"
	"fmt"
	"strings"
)

// expr is a fragment of SQL with the arguments of its placeholders, in
// order. Search builds its statements from exprs so that text and
// arguments cannot drift apart.
type expr struct {
	sql  string
	args []any
}

var (
	always = expr{sql: "1"}
	never  = expr{sql: "0"}
)

// cat concatenates parts: a string is SQL text, an expr brings its
// arguments along.
func cat(parts ...any) expr {
	var b strings.Builder
	var args []any
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case expr:
			b.WriteString(p.sql)
			args = append(args, p.args...)
		default:
			panic(fmt.Sprintf("sqlite: cat of %T", p))
		}
	}
	return expr{sql: b.String(), args: args}
}

// arg is one placeholder for v.
func arg(v any) expr { return expr{sql: "?", args: []any{v}} }

// args is a comma-separated placeholder list for vs.
func args[T any](vs []T) expr {
	e := expr{sql: strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", "), args: make([]any, len(vs))}
	for i, v := range vs {
		e.args[i] = v
	}
	return e
}

// join joins es with sep.
func join(sep string, es []expr) expr {
	parts := make([]any, 0, 2*len(es))
	for i, e := range es {
		if i > 0 {
			parts = append(parts, sep)
		}
		parts = append(parts, e)
	}
	return cat(parts...)
}

// and is the conjunction of es, always when there are none.
func and(es ...expr) expr {
	kept := es[:0:0]
	for _, e := range es {
		if e.sql != always.sql {
			kept = append(kept, e)
		}
	}
	switch len(kept) {
	case 0:
		return always
	case 1:
		return kept[0]
	}
	return cat("(", join(" AND ", kept), ")")
}

// or is the disjunction of es, never when there are none.
func or(es ...expr) expr {
	kept := es[:0:0]
	for _, e := range es {
		if e.sql == always.sql {
			return always
		}
		if e.sql != never.sql {
			kept = append(kept, e)
		}
	}
	switch len(kept) {
	case 0:
		return never
	case 1:
		return kept[0]
	}
	return cat("(", join(" OR ", kept), ")")
}

// in is "col = ?" for one value and "col IN (?, ...)" for more; never for
// none. Long lists are one JSON array argument (see jsonList).
func in[T string | int64](col string, vs []T) expr {
	switch {
	case len(vs) == 0:
		return never
	case len(vs) == 1:
		return cat(col, " = ", arg(vs[0]))
	case len(vs) > maxListArgs:
		return cat(col, " IN (SELECT value FROM json_each(", jsonList(vs), "))")
	}
	return cat(col, " IN (", args(vs), ")")
}

// inPairs is "(col1, col2) IN" the pairs. Long lists are one JSON array
// of [first, second] arrays.
func inPairs[A, B string | int64](col1, col2 string, firsts []A, seconds []B) expr {
	switch {
	case len(firsts) == 0:
		return never
	case len(firsts) == 1:
		return cat(col1, " = ", arg(firsts[0]), " AND ", col2, " = ", arg(seconds[0]))
	case len(firsts) > maxListArgs/2:
		pairs := make([][2]any, len(firsts))
		for i := range firsts {
			pairs[i] = [2]any{firsts[i], seconds[i]}
		}
		return cat("(", col1, ", ", col2, ") IN (SELECT value ->> 0, value ->> 1 FROM json_each(", jsonList(pairs), "))")
	}
	rows := make([]expr, len(firsts))
	for i := range firsts {
		rows[i] = cat("(", arg(firsts[i]), ", ", arg(seconds[i]), ")")
	}
	return cat("(", col1, ", ", col2, ") IN (VALUES ", join(", ", rows), ")")
}

// maxListArgs bounds the arguments of one IN list. Longer lists (a
// _revinclude of a page of 1000, a large ValueSet) are passed as a single
// JSON array, so that no statement reaches SQLite's limit on arguments
// however many values and parameters a search has.
const maxListArgs = 64

// jsonList is vs as one JSON array argument.
func jsonList[T any](vs []T) expr {
	b, err := json.Marshal(vs)
	if err != nil {
		panic(fmt.Sprintf("sqlite: JSON of %T: %v", vs, err)) // strings and integers only
	}
	return arg(string(b))
}

// prefixEnd is the smallest string greater than every string that starts
// with p, for a range scan [p, prefixEnd(p)); "" when there is none.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// hasPrefix is the range condition "col starts with p".
func hasPrefix(col, p string) expr {
	if end := prefixEnd(p); end != "" {
		return cat("(", col, " >= ", arg(p), " AND ", col, " < ", arg(end), ")")
	}
	return cat(col, " >= ", arg(p))
}
