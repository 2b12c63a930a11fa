package fhirpath

import (
	"encoding/json"
	"strconv"
	"strings"
)

// call is a function invocation; its input is the focus at the head of a
// path or the previous step's result.
type call struct {
	name string
	impl func(c *Env, f *call, in []Node) ([]Node, error)
	args []expr
	typ  string // the type argument of is(), as(), ofType()
}

func (f *call) eval(c *Env, in []Node) ([]Node, error) { return f.impl(c, f, in) }

type function struct {
	impl             func(c *Env, f *call, in []Node) ([]Node, error)
	minArgs, maxArgs int
	typeArg          bool // the argument is a type specifier, not an expression
}

var functions map[string]function

func init() {
	functions = map[string]function{
		"where":        {impl: fnWhere, minArgs: 1, maxArgs: 1},
		"exists":       {impl: fnExists, maxArgs: 1},
		"empty":        {impl: fnEmpty},
		"not":          {impl: fnNot},
		"first":        {impl: fnFirst},
		"last":         {impl: fnLast},
		"count":        {impl: fnCount},
		"hasValue":     {impl: fnHasValue},
		"extension":    {impl: fnExtension, minArgs: 1, maxArgs: 1},
		"hasExtension": {impl: fnHasExtension, minArgs: 1, maxArgs: 1},
		"resolve":      {impl: fnResolve},
		"ofType":       {impl: fnAs, minArgs: 1, maxArgs: 1, typeArg: true},
		"as":           {impl: fnAs, minArgs: 1, maxArgs: 1, typeArg: true},
		"is":           {impl: fnIs, minArgs: 1, maxArgs: 1, typeArg: true},
	}
}

// filter keeps the items of in for which criteria is true, evaluated with
// each item as $this.
func filter(c *Env, criteria expr, in []Node) ([]Node, error) {
	var out []Node // not in the arena: criteria use it meanwhile
	for i := range in {
		r, err := criteria.eval(c, in[i:i+1])
		if err != nil {
			return nil, err
		}
		if truth(r) == 1 {
			if out == nil && i == len(in)-1 {
				return in[i:], nil
			}
			out = append(out, in[i])
		}
	}
	return out, nil
}

func fnWhere(c *Env, f *call, in []Node) ([]Node, error) { return filter(c, f.args[0], in) }

func fnExists(c *Env, f *call, in []Node) ([]Node, error) {
	if len(f.args) == 1 {
		var err error
		if in, err = filter(c, f.args[0], in); err != nil {
			return nil, err
		}
	}
	return boolean(len(in) > 0), nil
}

func fnEmpty(_ *Env, _ *call, in []Node) ([]Node, error) { return boolean(len(in) == 0), nil }

func fnNot(_ *Env, _ *call, in []Node) ([]Node, error) {
	switch truth(in) {
	case 1:
		return boolean(false), nil
	case 0:
		return boolean(true), nil
	}
	return nil, nil
}

func fnFirst(_ *Env, _ *call, in []Node) ([]Node, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1], nil
}

func fnLast(_ *Env, _ *call, in []Node) ([]Node, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1:], nil
}

func fnCount(_ *Env, _ *call, in []Node) ([]Node, error) {
	return []Node{{Value: json.Number(strconv.Itoa(len(in))), Type: "integer"}}, nil
}

func fnHasValue(_ *Env, _ *call, in []Node) ([]Node, error) {
	if len(in) != 1 {
		return boolean(false), nil
	}
	switch in[0].Value.(type) {
	case string, bool, json.Number, float64:
		return boolean(true), nil
	}
	return boolean(false), nil
}

// stringArg evaluates a function's argument as a single string.
func stringArg(c *Env, a expr, in []Node) (string, bool, error) {
	r, err := a.eval(c, in)
	if err != nil || len(r) != 1 {
		return "", false, err
	}
	s, ok := r[0].Value.(string)
	return s, ok, nil
}

func extensions(c *Env, f *call, in []Node) ([]Node, error) {
	url, ok, err := stringArg(c, f.args[0], in)
	if err != nil || !ok {
		return nil, err
	}
	var out []Node
	for _, e := range c.children(in, "extension") {
		if m, ok := e.Value.(map[string]any); ok && m["url"] == url {
			out = append(out, e)
		}
	}
	return out, nil
}

func fnExtension(c *Env, f *call, in []Node) ([]Node, error) { return extensions(c, f, in) }

func fnHasExtension(c *Env, f *call, in []Node) ([]Node, error) {
	exts, err := extensions(c, f, in)
	if err != nil {
		return nil, err
	}
	return boolean(len(exts) > 0), nil
}

func fnAs(c *Env, f *call, in []Node) ([]Node, error) { return ofType(c, in, f.typ), nil }
func fnIs(c *Env, f *call, in []Node) ([]Node, error) { return isType(c, in, f.typ), nil }

// fnResolve resolves references without a store: a Reference (or a
// canonical/uri value) to a contained resource ("#id") yields that
// resource; one whose text names a resource type ("Patient/1",
// "http://x/fhir/Patient/1/_history/2") yields a value-less node of that
// type, so "resolve() is Patient" works; any other yields nothing.
func fnResolve(c *Env, _ *call, in []Node) ([]Node, error) {
	var out []Node
	for _, n := range in {
		var ref string
		switch v := n.Value.(type) {
		case map[string]any:
			ref, _ = v["reference"].(string)
		case string:
			ref = v
		}
		if ref == "" {
			continue
		}
		if id, ok := strings.CutPrefix(ref, "#"); ok {
			if r, ok := c.contained(id); ok {
				out = append(out, r)
			}
			continue
		}
		if typ := c.referenceType(ref); typ != "" {
			out = append(out, Node{Type: typ})
		}
	}
	return out, nil
}

// contained finds the resource a local reference "#id" points to in
// %resource ("#" alone is %resource itself).
func (c *Env) contained(id string) (Node, bool) {
	root, ok := c.Resource.Value.(map[string]any)
	if !ok {
		return Node{}, false
	}
	if id == "" {
		return c.Resource, true
	}
	list, _ := root["contained"].([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && m["id"] == id {
			return ResourceNode(m), true
		}
	}
	return Node{}, false
}

// referenceType returns the resource type a literal reference names: the
// segment before the id in "Type/id", ".../Type/id" or
// ".../Type/id/_history/v"; "" when there is none.
func (c *Env) referenceType(ref string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.IndexAny(ref, "|?#"); i >= 0 { // canonical version, query
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash <= 0 || slash == len(ref)-1 {
		return ""
	}
	typ := ref[:slash]
	if i := strings.LastIndexByte(typ, '/'); i >= 0 {
		typ = typ[i+1:]
	}
	if c.typeMatches(Node{Type: typ}, "Resource") && typ != "Resource" && typ != "DomainResource" {
		return typ
	}
	return ""
}
