package medtech

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
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

// compileJSONPath parses src.
func compileJSONPath(src string) (*jsonPath, error) {
	p := &pathParser{src: src}
	if strings.TrimSpace(src) == "" {
		return nil, p.errorf("empty path")
	}
	jp, err := p.path(false)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf("unexpected %q", p.src[p.pos])
	}
	return jp, nil
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

// pathParser is a recursive-descent parser of the dialect above.
type pathParser struct {
	src string
	pos int
}

func (p *pathParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSONPath %q at position %d: %s", p.src, p.pos+1, fmt.Sprintf(format, args...))
}

func (p *pathParser) skipSpace() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *pathParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// path parses a path; inFilter: it is an operand of a filter, where it
// must start with @ or $ and ends before an operator.
func (p *pathParser) path(inFilter bool) (*jsonPath, error) {
	jp := &jsonPath{src: p.src}
	bare := false // a name may follow without a dot
	switch p.peek() {
	case '$':
		jp.fromRoot = inFilter
		p.pos++
		bare = inFilter
	case '@':
		p.pos++
		bare = true
	default:
		if inFilter {
			return nil, p.errorf("a filter operand must start with @ or $ or be a literal")
		}
		bare = true
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '.' && strings.HasPrefix(p.src[p.pos:], ".."):
			p.pos += 2
			s, err := p.afterDot(inFilter)
			if err != nil {
				return nil, err
			}
			s.recursive = true
			jp.steps = append(jp.steps, s)
		case c == '.':
			p.pos++
			s, err := p.afterDot(inFilter)
			if err != nil {
				return nil, err
			}
			jp.steps = append(jp.steps, s)
		case c == '[':
			s, err := p.bracket()
			if err != nil {
				return nil, err
			}
			jp.steps = append(jp.steps, s)
		case bare && c == '*':
			p.pos++
			jp.steps = append(jp.steps, step{kind: stepWildcard})
		case bare && nameChar(c, inFilter):
			jp.steps = append(jp.steps, step{kind: stepNames, names: []string{p.name(inFilter)}})
		default:
			return jp, nil
		}
		bare = false
	}
	return jp, nil
}

func nameChar(c byte, inFilter bool) bool {
	switch c {
	case '.', '[', ']', '(', ')', ' ', 0:
		return false
	case '=', '<', '>', '!', '|', '&', ',':
		return !inFilter
	}
	return true
}

func (p *pathParser) name(inFilter bool) string {
	start := p.pos
	for p.pos < len(p.src) && nameChar(p.src[p.pos], inFilter) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// afterDot parses what follows . or ..: *, a name or a bracket.
func (p *pathParser) afterDot(inFilter bool) (step, error) {
	switch c := p.peek(); {
	case c == '*':
		p.pos++
		return step{kind: stepWildcard}, nil
	case c == '[':
		return p.bracket()
	case nameChar(c, inFilter):
		return step{kind: stepNames, names: []string{p.name(inFilter)}}, nil
	}
	return step{}, p.errorf("a name, * or [ must follow the dot")
}

// bracket parses […].
func (p *pathParser) bracket() (step, error) {
	p.pos++ // [
	p.skipSpace()
	var s step
	if p.pos >= len(p.src) {
		return s, p.errorf("unterminated [")
	}
	switch c := p.peek(); {
	case c == '?':
		p.pos++
		p.skipSpace()
		if p.peek() != '(' {
			return s, p.errorf("expected ( after ?")
		}
		p.pos++
		f, err := p.or()
		if err != nil {
			return s, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			return s, p.errorf("expected ) closing the filter")
		}
		p.pos++
		s = step{kind: stepFilter, filter: f}
	case c == '(':
		return s, p.errorf("script expressions [(…)] are not supported")
	case c == '*':
		p.pos++
		s = step{kind: stepWildcard}
	case c == '\'' || c == '"':
		s.kind = stepNames
		for {
			name, err := p.quoted()
			if err != nil {
				return s, err
			}
			s.names = append(s.names, name)
			p.skipSpace()
			if p.peek() != ',' {
				break
			}
			p.pos++
			p.skipSpace()
		}
	case c == '-' || c == ':' || (c >= '0' && c <= '9'):
		var err error
		if s, err = p.indexes(); err != nil {
			return s, err
		}
	default:
		return s, p.errorf("unexpected %q in brackets", c)
	}
	p.skipSpace()
	if p.peek() != ']' {
		return s, p.errorf("expected ]")
	}
	p.pos++
	return s, nil
}

// indexes parses 1, 1,2 or start:end:step.
func (p *pathParser) indexes() (step, error) {
	var parts [3]*int
	n := 0
	var list []int
	for {
		p.skipSpace()
		if c := p.peek(); c == '-' || (c >= '0' && c <= '9') {
			i, err := p.integer()
			if err != nil {
				return step{}, err
			}
			parts[n] = &i
		}
		p.skipSpace()
		switch p.peek() {
		case ':':
			if list != nil || n == 2 {
				return step{}, p.errorf("malformed slice")
			}
			n++
			p.pos++
			continue
		case ',':
			if n > 0 || parts[0] == nil {
				return step{}, p.errorf("malformed index list")
			}
			list = append(list, *parts[0])
			parts[0] = nil
			p.pos++
			continue
		}
		break
	}
	if n > 0 {
		if parts[2] != nil && *parts[2] == 0 {
			return step{}, p.errorf("slice step cannot be 0")
		}
		return step{kind: stepSlice, slice: parts}, nil
	}
	if parts[0] == nil {
		return step{}, p.errorf("expected an index")
	}
	return step{kind: stepIndexes, indexes: append(list, *parts[0])}, nil
}

func (p *pathParser) integer() (int, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	i, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil {
		p.pos = start
		return 0, p.errorf("expected an integer")
	}
	return i, nil
}

// quoted parses a '…' or "…" string with backslash escapes.
func (p *pathParser) quoted() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("expected a quoted name")
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case q:
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.src) {
				return "", p.errorf("unterminated string")
			}
			e := p.src[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *pathParser) or() (filterExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !strings.HasPrefix(p.src[p.pos:], "||") {
			return l, nil
		}
		p.pos += 2
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
}

func (p *pathParser) and() (filterExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !strings.HasPrefix(p.src[p.pos:], "&&") {
			return l, nil
		}
		p.pos += 2
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
}

func (p *pathParser) unary() (filterExpr, error) {
	p.skipSpace()
	switch {
	case p.peek() == '!' && !strings.HasPrefix(p.src[p.pos:], "!="):
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	case p.peek() == '(':
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peek() != ')' {
			return nil, p.errorf("expected )")
		}
		p.pos++
		return e, nil
	}
	return p.comparison()
}

var operators = []string{"===", "!==", "==", "!=", "<=", ">=", "=~", "<", ">"}

func (p *pathParser) comparison() (filterExpr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	op := ""
	for _, o := range operators {
		if strings.HasPrefix(p.src[p.pos:], o) {
			op = o
			break
		}
	}
	if op == "" {
		if l.path == nil {
			return nil, p.errorf("a literal alone is not a condition")
		}
		return existsExpr{l.path}, nil
	}
	p.pos += len(op)
	p.skipSpace()
	if op == "=~" {
		re, err := p.regex()
		if err != nil {
			return nil, err
		}
		return cmpExpr{op: op, l: l, r: operand{re: re}}, nil
	}
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	return cmpExpr{op: op, l: l, r: r}, nil
}

func (p *pathParser) operand() (operand, error) {
	p.skipSpace()
	switch c := p.peek(); {
	case c == '@' || c == '$':
		jp, err := p.path(true)
		return operand{path: jp}, err
	case c == '\'' || c == '"':
		s, err := p.quoted()
		return operand{value: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && strings.IndexByte("0123456789.eE+-", p.src[p.pos]) >= 0 {
			p.pos++
		}
		f, err := strconv.ParseFloat(p.src[start:p.pos], 64)
		if err != nil || math.IsInf(f, 0) {
			p.pos = start
			return operand{}, p.errorf("malformed number")
		}
		return operand{value: f}, nil
	}
	for _, lit := range []struct {
		word  string
		value any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(p.src[p.pos:], lit.word) {
			p.pos += len(lit.word)
			return operand{value: lit.value}, nil
		}
	}
	return operand{}, p.errorf("expected @, $, a number, a quoted string, true, false or null")
}

// regex parses /pattern/flags (flags i, m, s).
func (p *pathParser) regex() (*regexp.Regexp, error) {
	if p.peek() != '/' {
		return nil, p.errorf("expected /regex/ after =~")
	}
	p.pos++
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '/' {
		if p.src[p.pos] == '\\' {
			p.pos++
		}
		p.pos++
	}
	if p.pos >= len(p.src) {
		return nil, p.errorf("unterminated regex")
	}
	pattern := p.src[start:p.pos]
	p.pos++
	flags := ""
	for p.pos < len(p.src) && strings.IndexByte("imsx", p.src[p.pos]) >= 0 {
		if p.src[p.pos] != 'x' {
			flags += string(p.src[p.pos])
		}
		p.pos++
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, p.errorf("regex: %v", err)
	}
	return re, nil
}
