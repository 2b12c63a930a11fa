package medtech

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

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
