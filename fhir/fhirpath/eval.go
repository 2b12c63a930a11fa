package fhirpath

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// expr is a node of the compiled tree. eval gets the expression's input
// collection: the focus ($this) for a whole expression, a function
// argument or an operand, the previous step's result for a member access,
// function call or indexer in a path.
type expr interface {
	eval(c *Env, in []Node) ([]Node, error)
}

type literal struct{ node Node }

func (l *literal) eval(*Env, []Node) ([]Node, error) { return []Node{l.node}, nil }

type thisExpr struct{}

func (thisExpr) eval(_ *Env, in []Node) ([]Node, error) { return in, nil }

type resourceExpr struct{}

func (resourceExpr) eval(c *Env, _ []Node) ([]Node, error) {
	if c.Resource.Value == nil {
		return nil, nil
	}
	return []Node{c.Resource}, nil
}

// head is the identifier a path starts with. A capitalised one is a type
// name that filters the input ("Observation.code", "Resource.id"); any
// other is an element of the input ("code").
type head struct{ name string }

func (h *head) eval(c *Env, in []Node) ([]Node, error) {
	if n := h.name[0]; n >= 'A' && n <= 'Z' {
		return ofType(c, in, h.name), nil
	}
	return c.children(in, h.name), nil
}

type member struct{ name string }

func (m *member) eval(c *Env, in []Node) ([]Node, error) { return c.children(in, m.name), nil }

type chain struct{ steps []expr }

func (ch *chain) eval(c *Env, in []Node) ([]Node, error) {
	cur := in
	for _, s := range ch.steps {
		var err error
		if cur, err = s.eval(c, cur); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

type indexer struct{ index expr }

func (x *indexer) eval(c *Env, in []Node) ([]Node, error) {
	idx, err := x.index.eval(c, in)
	if err != nil {
		return nil, err
	}
	i, ok := integerValue(idx)
	if !ok || i < 0 || i >= int64(len(in)) {
		return nil, nil
	}
	return in[i : i+1], nil
}

type union struct{ left, right expr }

func (u *union) eval(c *Env, in []Node) ([]Node, error) {
	l, err := u.left.eval(c, in)
	if err != nil {
		return nil, err
	}
	r, err := u.right.eval(c, in)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return r, nil
	}
	if len(r) == 0 {
		return l, nil
	}
	// A union has no duplicates; complex values are compared by identity
	// of their decoded maps only, which is what paths into one resource
	// produce.
	start := len(c.arena)
	c.arena = append(c.arena, l...)
	for _, n := range r {
		if !containsNode(c.arena[start:], n) {
			c.arena = append(c.arena, n)
		}
	}
	return c.result(start), nil
}

func containsNode(ns []Node, n Node) bool {
	for _, m := range ns {
		if m.Type == n.Type && sameValue(m.Value, n.Value) {
			return true
		}
	}
	return false
}

// sameValue is equality for primitives and identity for maps and slices.
func sameValue(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		return ok && reflect.ValueOf(av).UnsafePointer() == reflect.ValueOf(bv).UnsafePointer()
	case []any:
		return false
	}
	if _, ok := b.(map[string]any); ok {
		return false
	}
	return a == b
}

type equality struct {
	negate      bool
	left, right expr
}

func (e *equality) eval(c *Env, in []Node) ([]Node, error) {
	l, err := e.left.eval(c, in)
	if err != nil {
		return nil, err
	}
	r, err := e.right.eval(c, in)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 || len(r) == 0 {
		return nil, nil
	}
	eq := len(l) == len(r)
	for i := 0; eq && i < len(l); i++ {
		eq = valuesEqual(l[i].Value, r[i].Value)
	}
	return boolean(eq != e.negate), nil
}

// valuesEqual is FHIRPath "=" on two values: primitives of different
// kinds are unequal, numbers compare by value, complex values member by
// member.
func valuesEqual(a, b any) bool {
	if x, ok := numberValue(a); ok {
		y, ok := numberValue(b)
		return ok && x == y
	}
	switch av := a.(type) {
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	}
	return reflect.DeepEqual(a, b)
}

func numberValue(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

func integerValue(ns []Node) (int64, bool) {
	if len(ns) != 1 {
		return 0, false
	}
	switch n := ns[0].Value.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

type logic struct {
	op          string
	left, right expr
}

// truth is a FHIRPath three-valued boolean: -1 empty, 0 false, 1 true.
func truth(ns []Node) int {
	if len(ns) == 0 {
		return -1
	}
	if b, ok := ns[0].Value.(bool); ok && len(ns) == 1 {
		if b {
			return 1
		}
		return 0
	}
	// A single non-boolean item (or a collection) counts as true.
	return 1
}

func (l *logic) eval(c *Env, in []Node) ([]Node, error) {
	lv, err := l.left.eval(c, in)
	if err != nil {
		return nil, err
	}
	a := truth(lv)
	// Short cuts that do not need the right operand.
	switch {
	case l.op == "and" && a == 0, l.op == "implies" && a == 0:
		return boolean(l.op == "implies"), nil
	case l.op == "or" && a == 1:
		return boolean(true), nil
	}
	rv, err := l.right.eval(c, in)
	if err != nil {
		return nil, err
	}
	b := truth(rv)
	switch l.op {
	case "and":
		switch {
		case a == 1 && b == 1:
			return boolean(true), nil
		case b == 0:
			return boolean(false), nil
		}
	case "or":
		switch {
		case b == 1:
			return boolean(true), nil
		case a == 0 && b == 0:
			return boolean(false), nil
		}
	case "xor":
		if a >= 0 && b >= 0 {
			return boolean(a != b), nil
		}
	case "implies": // a is true or empty here
		switch {
		case b == 1:
			return boolean(true), nil
		case a == 1 && b == 0:
			return boolean(false), nil
		}
	}
	return nil, nil
}

type typeOp struct {
	op      string // "is" or "as"
	operand expr
	typ     string
}

func (t *typeOp) eval(c *Env, in []Node) ([]Node, error) {
	ns, err := t.operand.eval(c, in)
	if err != nil {
		return nil, err
	}
	if t.op == "as" {
		return ofType(c, ns, t.typ), nil
	}
	return isType(c, ns, t.typ), nil
}

var trueNodes, falseNodes = []Node{{Value: true, Type: "boolean"}}, []Node{{Value: false, Type: "boolean"}}

// boolean returns a shared collection: results are not modified.
func boolean(b bool) []Node {
	if b {
		return trueNodes[:1:1]
	}
	return falseNodes[:1:1]
}

// systemTypes maps FHIRPath's System types to the FHIR primitive each
// FHIR value of that kind derives from (System.DateTime matches dateTime).
var systemTypes = map[string]string{
	"String": "string", "Boolean": "boolean", "Integer": "integer",
	"Decimal": "decimal", "Date": "date", "DateTime": "dateTime", "Time": "time",
}

// typeMatches reports whether n is of type typ or a type derived from it.
func (c *Env) typeMatches(n Node, typ string) bool {
	if s, ok := systemTypes[typ]; ok {
		typ = s
	}
	for t := n.Type; t != ""; t = c.baseType(t) {
		if t == typ {
			return true
		}
	}
	return false
}

func (c *Env) baseType(t string) string {
	if c.Model == nil {
		return ""
	}
	return c.Model.BaseType(t)
}

func ofType(c *Env, in []Node, typ string) []Node {
	start := len(c.arena)
	for _, n := range in {
		if c.typeMatches(n, typ) {
			c.arena = append(c.arena, n)
		}
	}
	if len(c.arena)-start == len(in) {
		c.arena = c.arena[:start]
		return in
	}
	return c.result(start)
}

// result returns the nodes appended to the arena since start. Results are
// carved from one growing arena per Env instead of allocated one by one;
// the cap limit makes a later append to a result copy it.
func (c *Env) result(start int) []Node {
	if len(c.arena) == start {
		return nil
	}
	return c.arena[start:len(c.arena):len(c.arena)]
}

// isType is "is": empty for an empty input, else whether its (first)
// item is of type typ.
func isType(c *Env, in []Node, typ string) []Node {
	if len(in) == 0 {
		return nil
	}
	return boolean(c.typeMatches(in[0], typ))
}

// children returns the element name of every item of in. The model tells
// the element's type and, for a choice element, which JSON names to look
// at: "value" finds "valueQuantity" and "valueString". Without a model
// entry the JSON member name is taken as is, untyped.
func (c *Env) children(in []Node, name string) []Node {
	start := len(c.arena)
	for _, n := range in {
		m, ok := n.Value.(map[string]any)
		if !ok {
			continue
		}
		var el *Element
		if c.Model != nil && n.Type != "" {
			el = c.Model.Element(n.Type, name)
		}
		if el == nil {
			if v, ok := m[name]; ok {
				c.arena = appendValues(c.arena, v, "", nil)
			}
			continue
		}
		for _, t := range el.Types {
			if v, ok := m[t.JSONName]; ok {
				c.arena = appendValues(c.arena, v, t.Name, el)
			}
		}
	}
	return c.result(start)
}

// appendValues appends the JSON value v (an array is flattened; nulls,
// which stand for absent primitive values, are skipped) typed typ. A
// resource in an element of abstract type Resource (contained,
// Bundle.entry.resource) is typed by its resourceType.
func appendValues(out []Node, v any, typ string, el *Element) []Node {
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			out = appendValues(out, x, typ, el)
		}
		return out
	}
	if v == nil {
		return out
	}
	if typ == "Resource" || typ == "DomainResource" || typ == "" {
		if m, ok := v.(map[string]any); ok {
			if rt, ok := m["resourceType"].(string); ok {
				typ = rt
			}
		}
	}
	return append(out, Node{Value: v, Type: typ, Element: el})
}
