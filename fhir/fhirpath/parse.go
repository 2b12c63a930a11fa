package fhirpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokNumber
	tokVar // %resource, $this: text holds the name with its sigil
	tokOp  // punctuation and symbolic operators
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

// lex splits src into tokens. Identifiers include keywords (and, is, ...);
// backtick-delimited identifiers lose their backticks.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, fmt.Errorf("at %d: %w", i, err)
			}
			toks = append(toks, token{tokString, s, i})
			i += n
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, fmt.Errorf("at %d: unterminated `identifier`", i)
			}
			toks = append(toks, token{tokIdent, src[i+1 : i+1+end], i})
			i += end + 2
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			toks = append(toks, token{tokNumber, src[i:j], i})
			i = j
		case c == '%' || c == '$' || isIdentStart(rune(c)):
			j := i + 1
			for j < len(src) && isIdentPart(rune(src[j])) {
				j++
			}
			kind := tokIdent
			if c == '%' || c == '$' {
				kind = tokVar
				if j == i+1 {
					return nil, fmt.Errorf("at %d: %c without a name", i, c)
				}
			}
			toks = append(toks, token{kind, src[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"!=", "!~", "<=", ">=", ".", "(", ")", "[", "]", ",", "|", "=", "~", "<", ">", "+", "-", "*", "/", "&"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("at %d: unexpected %q", i, c)
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		}
	}
	return append(toks, token{tokEOF, "", len(src)}), nil
}

func isIdentStart(r rune) bool { return r == '_' || r < unicode.MaxASCII && unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return isIdentStart(r) || r >= '0' && r <= '9' }

// lexString reads a single-quoted string literal at the start of s and
// returns its value and length.
func lexString(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			return b.String(), i + 1, nil
		case '\\':
			i++
			if i >= len(s) {
				return "", 0, errors.New("unterminated string")
			}
			switch e := s[i]; e {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			default: // \' \" \` \\ \/
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated string")
}

type parser struct {
	toks []token
	i    int
}

func parse(src string) (expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("at %d: unexpected %q", t.pos, t.text)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) expect(op string) error {
	if t := p.next(); t.kind != tokOp || t.text != op {
		return fmt.Errorf("at %d: expected %q, found %q", t.pos, op, t.text)
	}
	return nil
}

// Binary operator precedence, loosest first, as in the FHIRPath grammar.
// Operators outside the supported subset are recognised so that they fail
// with a clear message.
var precedence = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "!=": 5, "~": 5, "!~": 5,
	"<": 6, ">": 6, "<=": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
}

// binaryOp returns the binary operator at the current token and its
// precedence, or ok false.
func (p *parser) binaryOp() (op string, prec int, ok bool) {
	t := p.peek()
	if t.kind != tokOp && t.kind != tokIdent {
		return "", 0, false
	}
	prec, ok = precedence[t.text]
	return t.text, prec, ok
}

// expression parses operators binding tighter than minPrec (precedence
// climbing; all FHIRPath binary operators are left-associative).
func (p *parser) expression(minPrec int) (expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, prec, ok := p.binaryOp()
		if !ok || prec <= minPrec {
			return left, nil
		}
		t := p.next()
		if op == "is" || op == "as" {
			typ, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeOp{op: op, operand: left, typ: typ}
			continue
		}
		right, err := p.expression(prec)
		if err != nil {
			return nil, err
		}
		switch op {
		case "|":
			left = &union{left, right}
		case "=", "!=":
			left = &equality{negate: op == "!=", left: left, right: right}
		case "and", "or", "xor", "implies":
			left = &logic{op: op, left: left, right: right}
		default:
			return nil, fmt.Errorf("at %d: operator %q is not supported", t.pos, op)
		}
	}
}

func (p *parser) unary() (expr, error) {
	if t := p.peek(); t.kind == tokOp && (t.text == "-" || t.text == "+") {
		return nil, fmt.Errorf("at %d: unary %s is not supported", t.pos, t.text)
	}
	return p.chain()
}

// chain parses a term followed by member accesses, function calls and
// indexers.
func (p *parser) chain() (expr, error) {
	head, err := p.term()
	if err != nil {
		return nil, err
	}
	steps := []expr{head}
	for {
		t := p.peek()
		if t.kind != tokOp {
			break
		}
		if t.text == "." {
			p.next()
			n := p.next()
			if n.kind != tokIdent {
				return nil, fmt.Errorf("at %d: expected a name after '.', found %q", n.pos, n.text)
			}
			if q := p.peek(); q.kind == tokOp && q.text == "(" {
				f, err := p.call(n)
				if err != nil {
					return nil, err
				}
				steps = append(steps, f)
			} else {
				steps = append(steps, &member{name: n.text})
			}
			continue
		}
		if t.text == "[" {
			p.next()
			idx, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			steps = append(steps, &indexer{index: idx})
			continue
		}
		break
	}
	if len(steps) == 1 {
		return head, nil
	}
	return &chain{steps: steps}, nil
}

func (p *parser) term() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return &literal{Node{Value: t.text, Type: "string"}}, nil
	case tokNumber:
		typ := "integer"
		if strings.Contains(t.text, ".") {
			typ = "decimal"
		}
		return &literal{Node{Value: json.Number(t.text), Type: typ}}, nil
	case tokVar:
		switch t.text {
		case "$this":
			return thisExpr{}, nil
		case "%resource", "%rootResource", "%context":
			return resourceExpr{}, nil
		}
		return nil, fmt.Errorf("at %d: variable %s is not supported", t.pos, t.text)
	case tokIdent:
		switch t.text {
		case "true", "false":
			return &literal{Node{Value: t.text == "true", Type: "boolean"}}, nil
		}
		if q := p.peek(); q.kind == tokOp && q.text == "(" {
			return p.call(t)
		}
		return &head{name: t.text}, nil
	case tokOp:
		switch t.text {
		case "(":
			e, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
	}
	if t.kind == tokEOF {
		return nil, errors.New("unexpected end of expression")
	}
	return nil, fmt.Errorf("at %d: unexpected %q", t.pos, t.text)
}

// typeSpecifier parses a type name, optionally qualified ("FHIR.Patient",
// "System.String"), and returns it in the form typeMatches expects.
func (p *parser) typeSpecifier() (string, error) {
	t := p.next()
	if t.kind != tokIdent {
		return "", fmt.Errorf("at %d: expected a type name, found %q", t.pos, t.text)
	}
	name := t.text
	if q := p.peek(); q.kind == tokOp && q.text == "." && (name == "FHIR" || name == "System") {
		p.next()
		n := p.next()
		if n.kind != tokIdent {
			return "", fmt.Errorf("at %d: expected a type name, found %q", n.pos, n.text)
		}
		name = n.text
	}
	return name, nil
}

// call parses the argument list of the function named by t (the current
// token is its "(").
func (p *parser) call(t token) (expr, error) {
	p.next() // (
	spec, ok := functions[t.text]
	if !ok {
		return nil, fmt.Errorf("at %d: function %s() is not supported", t.pos, t.text)
	}
	f := &call{name: t.text, impl: spec.impl}
	if q := p.peek(); q.kind == tokOp && q.text == ")" {
		p.next()
	} else {
		for {
			if spec.typeArg && f.typ == "" {
				typ, err := p.typeSpecifier()
				if err != nil {
					return nil, err
				}
				f.typ = typ
			} else {
				a, err := p.expression(0)
				if err != nil {
					return nil, err
				}
				f.args = append(f.args, a)
			}
			if q := p.peek(); q.kind == tokOp && q.text == "," {
				p.next()
				continue
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			break
		}
	}
	n := len(f.args)
	if f.typ != "" {
		n++
	}
	if n < spec.minArgs || n > spec.maxArgs {
		return nil, fmt.Errorf("at %d: %s() takes %d to %d arguments, got %d", t.pos, t.text, spec.minArgs, spec.maxArgs, n)
	}
	return f, nil
}
