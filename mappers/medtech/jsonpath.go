package medtech

import (
	"regexp"
	"slices"
	"strings"
)

// JSONPath in the dialect of Newtonsoft.Json's SelectToken, which
// iomt-fhir templates are written in:
//
//   - $ (or @, or nothing) is the value the path is evaluated against;
//   - .name, ['name'], ["name"], ['a','b'], .*, [*], [0], [-1], [0,2],
//     [start:end:step];
//   - ..name, ..*, ..[…]: recursive descent; ..[?(…)] tests the value
//     itself and every value below it (so $..[?(@pulse)] matches a root
//     object that has pulse), as Newtonsoft does;
//   - [?(…)] filters: @path (exists, even when null), $path, comparisons
//     == != === !== < <= > >= between paths and literals (numbers,
//     'strings', "strings", true, false, null), =~ /regex/flags, && || !
//     and parentheses. The first step of a filter path may omit the dot
//     (@heartRate is @.heartRate).
//
// Names in dot notation run until . [ ( ) ] or a space (and, in filters,
// an operator), so $.SystemProperties.iothub-connection-device-id works.
// Members of an object are visited in key order, not document order
// (decoded JSON objects are Go maps).

// jsonPath is a compiled JSONPath.
type jsonPath struct {
	src   string
	steps []step
	// fromRoot: the path starts with $ inside a filter, so it is evaluated
	// against the root rather than the filtered value.
	fromRoot bool
}

type stepKind int

const (
	stepNames stepKind = iota
	stepWildcard
	stepIndexes
	stepSlice
	stepFilter
)

type step struct {
	kind      stepKind
	recursive bool
	names     []string
	indexes   []int
	slice     [3]*int
	filter    filterExpr
}

// selectAll returns the values the path selects in root, in order.
func (jp *jsonPath) selectAll(root any) []any {
	return jp.eval(root, root)
}

func (jp *jsonPath) eval(root, cur any) []any {
	nodes := []any{cur}
	if jp.fromRoot {
		nodes[0] = root
	}
	for i := range jp.steps {
		nodes = jp.steps[i].apply(root, nodes)
		if len(nodes) == 0 {
			return nil
		}
	}
	return nodes
}

func (s *step) apply(root any, nodes []any) []any {
	var out []any
	for _, n := range nodes {
		if !s.recursive {
			out = s.children(root, n, out)
			continue
		}
		walk(n, func(v any) {
			if s.kind == stepFilter {
				if s.filter.match(root, v) {
					out = append(out, v)
				}
				return
			}
			out = s.children(root, v, out)
		})
	}
	return out
}

// walk calls f for v and every value below it, depth first.
func walk(v any, f func(any)) {
	f(v)
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			walk(v[k], f)
		}
	case []any:
		for _, e := range v {
			walk(e, f)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// children appends what the step selects directly below v.
func (s *step) children(root, v any, out []any) []any {
	switch s.kind {
	case stepNames:
		if m, ok := v.(map[string]any); ok {
			for _, name := range s.names {
				if c, ok := m[name]; ok {
					out = append(out, c)
				}
			}
		}
	case stepWildcard:
		switch v := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				out = append(out, v[k])
			}
		case []any:
			out = append(out, v...)
		}
	case stepIndexes:
		if a, ok := v.([]any); ok {
			for _, i := range s.indexes {
				if i < 0 {
					i += len(a)
				}
				if i >= 0 && i < len(a) {
					out = append(out, a[i])
				}
			}
		}
	case stepSlice:
		if a, ok := v.([]any); ok {
			out = appendSlice(out, a, s.slice)
		}
	case stepFilter:
		switch v := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				if s.filter.match(root, v[k]) {
					out = append(out, v[k])
				}
			}
		case []any:
			for _, e := range v {
				if s.filter.match(root, e) {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func appendSlice(out, a []any, sl [3]*int) []any {
	n := len(a)
	step := 1
	if sl[2] != nil {
		step = *sl[2]
	}
	bound := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
		}
		return min(max(i, -1), n)
	}
	if step > 0 {
		start, end := max(bound(sl[0], 0), 0), bound(sl[1], n)
		for i := start; i < end; i += step {
			out = append(out, a[i])
		}
		return out
	}
	start, end := min(bound(sl[0], n-1), n-1), bound(sl[1], -1)
	for i := start; i > end; i += step {
		out = append(out, a[i])
	}
	return out
}

// filterExpr is a compiled filter condition.
type filterExpr interface {
	match(root, v any) bool
}

type orExpr struct{ l, r filterExpr }
type andExpr struct{ l, r filterExpr }
type notExpr struct{ e filterExpr }
type existsExpr struct{ path *jsonPath }

// cmpExpr compares two operands; an operand is a path (any of its values
// may satisfy the comparison) or a literal.
type cmpExpr struct {
	op   string
	l, r operand
}

type operand struct {
	path  *jsonPath
	value any
	re    *regexp.Regexp
}

func (e orExpr) match(root, v any) bool  { return e.l.match(root, v) || e.r.match(root, v) }
func (e andExpr) match(root, v any) bool { return e.l.match(root, v) && e.r.match(root, v) }
func (e notExpr) match(root, v any) bool { return !e.e.match(root, v) }
func (e existsExpr) match(root, v any) bool {
	return len(e.path.eval(root, v)) > 0
}

func (o operand) values(root, v any) []any {
	if o.path != nil {
		return o.path.eval(root, v)
	}
	return []any{o.value}
}

func (e cmpExpr) match(root, v any) bool {
	left := e.l.values(root, v)
	if e.op == "=~" {
		for _, l := range left {
			if s, ok := l.(string); ok && e.r.re.MatchString(s) {
				return true
			}
		}
		return false
	}
	right := e.r.values(root, v)
	for _, l := range left {
		for _, r := range right {
			if compare(e.op, l, r) {
				return true
			}
		}
	}
	return false
}

// compare applies op to two JSON values as Newtonsoft does for scalars:
// numbers compare as numbers, strings ordinally, a number never equals a
// string; objects and arrays compare with nothing.
func compare(op string, l, r any) bool {
	switch op {
	case "==", "===":
		return scalarEqual(l, r)
	case "!=", "!==":
		if !isScalar(l) || !isScalar(r) {
			return false
		}
		return !scalarEqual(l, r)
	}
	var c int
	switch l := l.(type) {
	case float64:
		rf, ok := r.(float64)
		if !ok {
			return false
		}
		c = cmpFloat(l, rf)
	case string:
		rs, ok := r.(string)
		if !ok {
			return false
		}
		c = strings.Compare(l, rs)
	default:
		return false
	}
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // ">="
		return c >= 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func scalarEqual(l, r any) bool {
	if !isScalar(l) || !isScalar(r) {
		return false
	}
	return l == r
}
